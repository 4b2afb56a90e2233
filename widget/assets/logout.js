// Logout countdown widget; see package widget. Times are ms, browser clock.
(() => {
  'use strict';
  const pad = (n) => String(n).padStart(2, '0');
  const secs = (ms) => Math.max(0, Math.ceil(ms / 1000));

  // format is widget.FormatLeft (ms left, lifetime in s, labels, lang).
  // Tests call it on this script's element, with testdata/format.json.
  const format = (ms, life, w, lang) => {
    const t = secs(ms);
    const m = Math.floor(t / 60);
    const h = Math.floor(m / 60);
    const s = ':' + pad(t % 60);
    if (life < 3600) return pad(m) + s;
    if (life < 86400) return pad(h) + ':' + pad(m % 60) + s;
    const d = Math.floor(h / 24);
    let k;
    try {
      k = new Intl.PluralRules(lang || 'en').select(d);
    } catch (_) {
      k = d === 1 && 'one'; // a malformed tag: English, as in Go
    }
    const x = k === 'one' ? w.day : (k === 'few' && w.daysFew) || w.days;
    return d + ' ' + x + ' ' + pad(h % 24) + ':' + pad(m % 60) + s;
  };
  if (document.currentScript) document.currentScript.format = format;

  const el = document.querySelector('.logout-counter[data-deadline]');
  const dlg = document.querySelector('.logout-dialog');
  if (!el || !dlg || !window.fetch) return;

  const c = el.dataset;
  const [msg, note, live, stay, out] = ['msg', 'note', 'live', 'stay', 'out'].map((s) =>
    dlg.querySelector('.logout-' + s));
  const fetch0 = window.fetch.bind(window);
  const key = 'logout:' + c.statusUrl;

  let life = +c.lifetime; // s
  let lead = +c.warningLead; // s
  let dl = 0; // deadline
  let last = 0; // server time of the newest deadline
  let job = ''; // check, stay or out
  let busy = false;
  let fails = 0;
  let retryAt = 0;
  let said = Infinity; // lowest threshold announced
  let prev = null; // focus before the dialog
  let ended = false;

  const lang = c.lang || document.documentElement.lang;

  // short formats t seconds for the dialog: 0:59, 1:00:00.
  const short = (t) => {
    const m = Math.floor(t / 60);
    return (m < 60 ? m : Math.floor(m / 60) + ':' + pad(m % 60)) + ':' + pad(t % 60);
  };

  const text = (n, s) => {
    if (n.textContent !== s) n.textContent = s;
  };

  // Tabs share deadlines {d, s} and sign-outs {u}.
  let bc = null;
  try {
    bc = new BroadcastChannel(key);
    bc.onmessage = (e) => hear(e.data);
  } catch (_) {
    addEventListener('storage', (e) => {
      try {
        if (e.key === key) hear(JSON.parse(e.newValue));
      } catch (_) {}
    });
  }
  const post = (m) => {
    try {
      if (bc) bc.postMessage(m);
      else localStorage.setItem(key, JSON.stringify({ ...m, n: Math.random() }));
    } catch (_) {}
  };
  const hear = (m) => {
    if (m.u) return expire(m.u, true);
    if (!(m.s >= last)) return;
    last = m.s;
    dl = m.d;
    if (job !== 'out') {
      job = '';
      fails = 0;
    }
    tick();
  };

  // take adopts deadline d, server time s of a response seen at time at.
  const take = (d, s, at) => {
    if (!(+d > 0 && +s >= last)) return;
    last = +s;
    dl = d - s + at; // skew = s - at
    post({ d: dl, s: last });
  };

  const safe = (u) => {
    try {
      const x = new URL(u, location.href);
      if (u && x.origin === location.origin) return x.href;
    } catch (_) {}
    return '';
  };

  // expire goes to the sign-in page, in every tab.
  const expire = (u, heard) => {
    if (ended) return;
    ended = true;
    const s = c.signInUrl || '/';
    const to = safe(u) ||
      safe(s + (s.includes('?') ? '&' : '?') + 'reason=idle&return=' +
        encodeURIComponent(location.pathname + location.search)) || '/';
    if (!heard) post({ u: to });
    text(el, c.expired);
    document.dispatchEvent(new CustomEvent('logout:expired', { detail: { url: to } }));
    location.assign(to);
  };

  // seen reads every response of the page.
  const seen = (status, header, json) => {
    take(header('Logout-Deadline'), header('Logout-Server-Time'), Date.now());
    if (status === 401) {
      Promise.resolve().then(json)
        .then((j) => j.signed_in === false && expire(j.sign_in_url))
        .catch(() => {});
    }
  };

  window.fetch = (...a) =>
    fetch0(...a).then((r) => {
      const copy = r.status === 401 && r.clone();
      seen(r.status, (h) => r.headers.get(h), () => copy.json());
      return r;
    });

  const X = XMLHttpRequest.prototype;
  const send0 = X.send;
  const hooked = new WeakSet(); // an XHR may be sent again
  X.send = function (...a) {
    if (!hooked.has(this)) {
      hooked.add(this);
      this.addEventListener('load', () => {
        const all = this.getAllResponseHeaders(); // quiet cross-origin
        seen(
          this.status,
          (h) => (all.match(new RegExp('^' + h + ':\\s*(\\d+)', 'im')) || [])[1],
          () => (this.responseType === 'json' ? this.response : JSON.parse(this.responseText)),
        );
      });
    }
    return send0.apply(this, a);
  };

  // send makes request k. Only the server's word signs out; failures retry.
  const send = (k) => {
    busy = true;
    const check = k === 'check';
    let at = 0;
    fetch0(check ? c.statusUrl : k === 'stay' ? c.keepAliveUrl : c.signOutUrl, {
      method: check ? 'GET' : 'POST',
      headers: { Accept: 'application/json', ...(check ? { 'X-Logout-Passive': '1' } : { 'X-CSRF-Token': c.csrfToken }) },
      credentials: 'same-origin',
      cache: 'no-store',
    })
      .then((r) => {
        at = Date.now();
        return r.json().catch(() => ({})).then((j) => [r, j]);
      })
      .then(([r, j]) => {
        if (r.status === 401 || (r.ok && j.signed_in === false)) return expire(j.sign_in_url);
        if (!r.ok || !j.signed_in) throw Error(r.status);
        take(j.deadline, j.server_time, at);
        life = +j.lifetime || life;
        lead = +j.warning_lead || 0;
        el.hidden = !j.show_counter;
        if (dl <= Date.now()) throw Error('past');
        if (job === k) job = '';
        fails = 0;
      })
      .catch(() => {
        retryAt = Date.now() + Math.min(30000, 250 * 2 ** ++fails);
      })
      .finally(() => {
        busy = false;
        tick();
      });
  };

  const want = (k) => {
    if (job !== 'out') job = k;
    retryAt = 0;
    tick();
  };

  // tick reads the wall clock, never counts ticks: right after sleep.
  const tick = () => {
    if (ended) return;
    const now = Date.now();
    const rem = dl - now;
    const t = secs(rem);
    text(el, format(rem, life, c, lang));
    if (!busy && (job ? now >= retryAt : rem <= 0)) send(job || 'check');
    const down = fails > 0;
    if (!down && !(lead > 0 && rem <= lead * 1000)) {
      if (dlg.open) dlg.close();
      return;
    }
    if (!dlg.open) {
      prev = document.activeElement;
      dlg.showModal();
      stay.focus();
    }
    text(msg, c.warning.replace('%s', short(t)));
    text(note, down ? c.retrying : '');
    // Announce at opening, 30 s, 10 s and failure; not every second.
    const m = down ? -1 : t <= 10 ? 10 : t <= 30 ? 30 : 1e9;
    if (m < said) {
      said = m;
      const s = down ? c.retrying : msg.textContent;
      text(live, '');
      setTimeout(() => text(live, s), 100);
    }
  };

  document.body.append(dlg); // out of a hidden or collapsed top bar
  dlg.addEventListener('close', () => {
    said = Infinity;
    if (prev && prev.isConnected && prev.focus) prev.focus();
    prev = null;
  });
  dlg.addEventListener('cancel', (e) => {
    e.preventDefault(); // Escape means stay
    want('stay');
  });
  dlg.addEventListener('keydown', (e) => {
    if (e.key !== 'Tab') return;
    e.preventDefault(); // trap: two buttons, so Tab and Shift+Tab swap
    (document.activeElement === stay ? out : stay).focus();
  });
  stay.addEventListener('click', () => want('stay'));
  document.addEventListener('click', (e) => {
    if (!e.target.closest || !e.target.closest('[data-logout-sign-out]')) return;
    e.preventDefault();
    want('out');
  });
  addEventListener('pageshow', (e) => e.persisted && want('check'));
  addEventListener('online', () => (retryAt = 0));
  document.addEventListener('visibilitychange', () => tick()); // throttled tabs

  const nav = performance.getEntriesByType('navigation')[0];
  take(c.deadline, c.serverTime, Date.now() - (nav ? performance.now() - nav.responseStart : 0));
  tick();
  setInterval(tick, 250);
})();

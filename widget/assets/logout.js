// Logout countdown widget; see package widget. Times are ms, browser clock.
(() => {
  'use strict';
  const pad = (n) => String(n).padStart(2, '0');
  const secs = (ms) => Math.max(0, Math.ceil(ms / 1000));

  // format is widget.FormatLeft; tests call it with testdata/format.json.
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

  // One widget a document: a panel that swaps its body (Turbo) may run
  // this script again; the first keeps its state and takes the new
  // page's elements' places.
  const me = Symbol.for('logout.widget');
  if (window[me]) return window[me]();
  const sel = ['.logout-counter[data-deadline]', '.logout-dialog', '.logout-lock'];
  const [el, dlg, lk] = sel.map((s) => document.querySelector(s));
  if (!el || !dlg || !lk || !window.fetch) return;

  const c = el.dataset;
  const $ = (s, d = dlg) => d.querySelector('.logout-' + s);
  const [msg, note, live, stay, out] = ['msg', 'note', 'live', 'stay', 'out'].map((s) => $(s));
  const [form, why, err] = ['form', 'why', 'err'].map((s) => $(s, lk));
  const fetch0 = window.fetch.bind(window);
  const key = 'logout:' + c.statusUrl;
  const html = document.documentElement;

  let life = +c.lifetime;
  let lead = +c.warningLead;
  let dl = 0;
  let last = 0; // its server time
  let job = '';
  let busy = false;
  let fails = 0;
  let waits = 0;
  let retryAt = 0;
  let said = Infinity;
  let prev = null;
  let state = 0; // 1 locked, 2 leaving
  let pv = 0; // preview
  let push = false; // here or in the leader
  let leader = false;
  let checked = 0;
  let pending = 0; // requests in flight
  let tok = '';
  let kept = null;
  let wake;
  let resumed = new Promise((r) => (wake = r));

  const lang = c.lang; // the plural rules' language, as Go's PluralCategory chose it

  const text = (n, s) => {
    if (n.textContent !== s) n.textContent = s;
  };
  const say = (n, s) => {
    text(n, '');
    setTimeout(() => text(n, s), 100);
  };
  const fire = (type, detail) => document.dispatchEvent(new CustomEvent('logout:' + type, { detail }));

  // Tabs share deadlines {d, s}, status {j}, ends {e, u}, sign-ins {r, x}, push {p, q}.
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
    if (m.u) return leave(m.u, true);
    if (m.e) return end(m.e, true);
    if (m.r) return resume(m.r);
    if (m.x) return location.replace(m.x);
    if (m.j) return apply(m.j, Date.now(), true);
    if ('p' in m) push = m.p;
    if (m.q && leader) post({ p: push });
    if (!(m.s >= last)) return;
    last = m.s;
    dl = m.d;
    if (job !== 'out') {
      job = '';
      fails = 0;
    }
    tick();
  };

  // take adopts deadline d, server time s, seen at at.
  const take = (d, s, at, quiet) => {
    if (!(+d > 0 && +s >= last)) return;
    last = +s;
    dl = d - s + at; // skew = s - at
    if (dl > at) retryAt = waits = 0;
    if (!quiet) post({ d: dl, s: last });
  };

  const apply = (j, at, quiet) => {
    take(j.deadline, j.server_time, at, quiet);
    life = +j.lifetime || life;
    lead = +j.warning_lead || 0;
    el.hidden = !j.show_counter;
    tick();
  };

  const safe = (u) => {
    try {
      const x = new URL(u, location.href);
      if (u && x.origin === location.origin) return x.href;
    } catch (_) {}
    return '';
  };

  const leave = (u, heard) => {
    if (state > 1) return;
    const locked = state; // told
    state = 2;
    const to = safe(u) || safe(c.signInUrl) || '/';
    if (!heard) post({ u: to });
    text(el, c.expired);
    if (!locked) fire('expired', { url: to });
    location.assign(to);
  };

  // end: signed out (j: a 401 body). A sign-out leaves, others lock.
  const end = (j, heard) => {
    if (j.reason === 'manual' || job === 'out') return leave(j.sign_in_url, heard);
    if (!heard) post({ e: j });
    lock(j);
  };

  // lock hides the page, keeping its DOM, scrolls and focus.
  const lock = (j, preview) => {
    if (state) return;
    state = 1;
    pv = 0;
    if (dlg.open) dlg.close();
    const s = [[html, scrollX, scrollY]];
    const i = [];
    for (const n of document.querySelectorAll('body *')) {
      if (n.scrollTop || n.scrollLeft) s.push([n, n.scrollLeft, n.scrollTop]);
    }
    for (const n of document.body.children) {
      if (n !== lk && !n.inert) i.push(n), (n.inert = true);
    }
    kept = [document.activeElement, document.title, s, i];
    html.classList.add('logout-locked');
    lk.classList.toggle('logout-preview', !!preview);
    document.title = $('title', lk).textContent;
    text(err, '');
    form.username.value ||= c.userName || c.user || '';
    lk.showModal();
    (form.username.value ? form.password : form.username).focus();
    say(why, preview ? c.preview : j.message || c.expired);
    c.signInFrame == null || preview ? ask(j) : frame();
    if (!preview) fire('expired', { url: j.sign_in_url, locked: true });
  };

  // frame signs in through the sign-in page itself, in a frame (behind
  // logout-proxy, a panel's page): a page of it that finds the session
  // signed in again resumes, or starts afresh for another user.
  const frame = () => {
    const f = document.createElement('iframe');
    f.className = 'logout-frame';
    f.title = $('title', lk).textContent;
    f.src = c.signInUrl;
    f.onload = () =>
      fetch0(c.statusUrl, { headers: { Accept: 'application/json', 'X-Logout-Passive': '1' }, cache: 'no-store' })
        .then((r) => r.json())
        .then((j) => {
          if (!j.signed_in || state !== 1) return;
          if (j.user === c.user) return post({ r: j }), resume(j);
          fire('switched', { user: c.user });
          post({ x: location.href });
          location.reload();
        })
        .catch(() => {});
    lk.classList.add('logout-framed');
    why.after(f);
    f.focus();
  };

  // ask gets the sign-in token; without the sign-in contract, leave.
  const ask = (j) =>
    fetch0(c.signInUrl, { headers: { Accept: 'application/json' }, cache: 'no-store' })
      .then((r) => r.json())
      .then((t) => {
        if (!(tok = t.csrf_token)) throw 0;
      })
      .catch(() => j && j.sign_in_url && leave(j.sign_in_url));

  const unlock = () => {
    if (state !== 1) return;
    state = 0;
    html.classList.remove('logout-locked');
    lk.close();
    lk.classList.remove('logout-framed');
    for (const f of lk.querySelectorAll('iframe')) f.remove();
    const [f, t, s, i] = kept;
    document.title = t;
    for (const n of i) n.inert = false;
    if (f && f.focus) f.focus({ preventScroll: true });
    for (const [n, x, y] of s) n.scrollTo(x, y);
    kept = null;
    form.password.value = '';
    said = Infinity;
    fails = waits = 0;
    job = '';
    open();
    tick();
  };

  // resume: the same user signed in, here or in another tab.
  const resume = (j) => {
    const old = c.csrfToken;
    const t = (c.csrfToken = j.csrf_token || old); // none from a frame's sign-in: the panel's own tokens
    for (const n of document.querySelectorAll('input[name=csrf_token]')) n.value = t;
    for (const n of document.querySelectorAll('meta[name=csrf-token]')) n.content = t;
    unlock();
    pv = 0;
    apply(j, Date.now(), true);
    wake([old, t]);
    resumed = new Promise((r) => (wake = r));
    fire('resumed', { user: j.user });
  };

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const b = new URLSearchParams(new FormData(form));
    b.set('csrf_token', tok);
    text(err, '');
    fetch0(c.signInUrl, { method: 'POST', headers: { Accept: 'application/json' }, body: b, cache: 'no-store' })
      .then((r) => r.json().then((j) => [r, j]))
      .then(([r, j]) => {
        if (!r.ok || !j.signed_in) {
          if (r.status === 403) ask();
          return say(err, j.error || c.retrying);
        }
        if (j.user === c.user) return post({ r: j }), resume(j);
        // Another user: drop the page and drafts.
        const to = safe(j.start_url) || '/';
        fire('switched', { user: c.user });
        post({ x: to });
        location.replace(to);
      })
      .catch(() => say(err, c.retrying));
  });

  // retry sends a again, the CSRF token o replaced by t.
  const retry = (a, [o, t]) => {
    const [u, i = {}] = a;
    const h = new Headers(i.headers || u.headers);
    for (const [k, v] of h) if (v === o) h.set(k, t);
    let b = i.body;
    if (b && b.get && b.get('csrf_token') === o) b.set('csrf_token', t);
    if (typeof b === 'string') b = b.replaceAll(o, t);
    return fetch0(u, { ...i, headers: h, ...(b && { body: b }) });
  };

  // A fetch refused by a 401 waits for the sign-in and is retried once.
  const seen = (r) => (take(r.headers.get('Logout-Deadline'), r.headers.get('Logout-Server-Time'), Date.now()), r);
  window.fetch = (...a) => {
    const copy = a[0] instanceof Request && a[0].clone();
    pending++;
    return fetch0(...a)
      .finally(() => pending--)
      .then((r) => {
        seen(r);
        if (r.status !== 401 || !safe(r.url)) return r;
        return r.clone().json().then((j) => {
          if (j.signed_in !== false) return r;
          end(j);
          return state === 1 ? resumed.then((k) => retry(copy ? [copy] : a, k)).then(seen) : r;
        }, () => r);
      });
  };

  const X = XMLHttpRequest.prototype;
  const send0 = X.send;
  const hooked = new WeakSet(); // an XHR may be sent again
  X.send = function (...a) {
    pending++;
    if (!hooked.has(this)) {
      hooked.add(this);
      this.addEventListener('loadend', () => {
        pending--;
        const all = this.getAllResponseHeaders(); // quiet cross-origin
        const h = (n) => (all.match(new RegExp('^' + n + ':\\s*(\\d+)', 'im')) || [])[1];
        take(h('Logout-Deadline'), h('Logout-Server-Time'), Date.now());
        if (this.status !== 401) return;
        try {
          const j = this.responseType === 'json' ? this.response : JSON.parse(this.responseText);
          if (j.signed_in === false) end(j);
        } catch (_) {}
      });
    }
    return send0.apply(this, a);
  };

  // send makes request k. Only the server's word signs out.
  const send = (k) => {
    busy = true;
    const check = k === 'check';
    let at = 0;
    if (check) checked = dl;
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
        if (r.status === 401 || (r.ok && j.signed_in === false)) return end(j);
        if (!r.ok || !j.signed_in) throw Error(r.status);
        fails = 0;
        if (job === k) job = '';
        apply(j, at);
        // Past the deadline: a request is being served.
        if (dl <= Date.now()) (checked = dl), (retryAt = Date.now() + Math.min(30000, 500 * 2 ** ++waits));
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
    retryAt = pv = 0;
    tick();
  };

  // tick reads the wall clock, never counts ticks: right after sleep. At zero
  // it asks status, with backoff; with push up once, unless requests are pending.
  const tick = () => {
    if (state) return;
    const now = Date.now();
    const rem = (pv || dl) - now;
    const t = secs(rem);
    const left = format(rem, life, c, lang); // the dialog's too: one format
    text(el, left);
    if (pv && rem <= 0) return lock({}, 1);
    if (!pv && !busy && now >= retryAt && (job || (rem <= 0 && (!push || pending || checked !== dl)))) {
      send(job || 'check');
    }
    const down = fails > 0;
    if (!down && !pv && !(lead > 0 && rem <= lead * 1000)) {
      if (dlg.open) dlg.close();
      return;
    }
    if (!dlg.open) {
      prev = document.activeElement;
      dlg.showModal();
      stay.focus();
    }
    text(msg, c.warning.replace('%s', left));
    text(note, down ? c.retrying : '');
    // Announce at opening, 30 s, 10 s and failure; not every second.
    const m = down ? -1 : t <= 10 ? 10 : t <= 30 ? 30 : 1e9;
    if (m < said) {
      said = m;
      say(live, down ? c.retrying : msg.textContent);
    }
  };

  // Push: one stream per browser, in the leader tab.
  let src = null;
  let tries = 0;
  const open = () => {
    if (!leader || src || state) return;
    const s = (src = new EventSource(c.events));
    const up = (v) => post({ p: (push = v) });
    const close = () => {
      s.close();
      src = null;
      job ||= 'check'; // also when the stream never opened: a 401 may mean the session ended
      up(false);
    };
    s.addEventListener('status', (e) => {
      const j = JSON.parse(e.data);
      tries = 0;
      up(true);
      apply(j, Date.now(), true);
      post({ j });
    });
    s.addEventListener('ended', (e) => {
      const j = JSON.parse(e.data);
      close();
      if (j.reason === 'replaced') return setTimeout(open, 1000), tick();
      end(j);
    });
    s.onerror = () => {
      close();
      tick();
      setTimeout(open, Math.min(30000, 1000 * 2 ** tries++) * (0.5 + Math.random() / 2));
    };
  };
  if (c.events && window.EventSource && navigator.locks) {
    navigator.locks.request(key, () => new Promise(() => ((leader = true), open())));
    post({ q: 1 });
  }

  // logoutPreview(s): a timeout in s seconds, in this tab only.
  window.logoutPreview = (s) => {
    pv = Date.now() + s * 1000;
    said = Infinity;
    tick();
  };
  for (const b of document.querySelectorAll('[data-logout-preview]')) b.hidden = false;

  document.body.append(dlg, lk); // out of a hidden or collapsed top bar
  // keep puts back what a page that swaps its body (Turbo, pjax, htmx,
  // phpMyAdmin) took away: in place of the new page's copy, or, for the
  // dialogs and logout-proxy's badge, at the end of the body.
  const keep = (window[me] = () => {
    [el, dlg, lk].forEach((n, i) => {
      if (n.isConnected) return;
      const m = document.querySelector(sel[i]);
      const b = i ? n : n.closest('.logout-proxy-counter');
      if (m) m.replaceWith(n);
      else if (b) document.body.append(b);
    });
    if (state === 1 && !lk.open) lk.showModal();
  });
  new MutationObserver(keep).observe(html, { childList: true, subtree: true });
  dlg.addEventListener('close', () => {
    said = Infinity;
    if (prev && prev.isConnected && prev.focus) prev.focus();
    prev = null;
  });
  dlg.addEventListener('cancel', (e) => {
    e.preventDefault(); // Escape means stay
    want('stay');
  });
  lk.addEventListener('cancel', (e) => {
    e.preventDefault(); // ends a preview
    if (lk.matches('.logout-preview')) unlock();
  });
  // Tab cycles in a dialog.
  for (const d of [dlg, lk]) {
    d.addEventListener('keydown', (e) => {
      if (e.key !== 'Tab') return;
      const f = [...d.querySelectorAll('a,button,input')].filter((n) => n.getClientRects().length);
      const i = f.indexOf(document.activeElement);
      const n = e.shiftKey ? (i > 0 ? i - 1 : f.length - 1) : (i + 1) % f.length;
      e.preventDefault();
      f[n].focus();
    });
  }
  stay.addEventListener('click', () => want('stay'));
  $('end', lk).addEventListener('click', unlock);
  document.addEventListener('click', (e) => {
    const t = e.target.closest ? e.target : e.target.parentElement;
    const p = t && t.closest('[data-logout-preview]');
    if (p) return logoutPreview(+p.dataset.logoutPreview || 10);
    if (!t || !t.closest('[data-logout-sign-out]')) return;
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

// Backend page scripts: "Refresh stats" by fetch, the "Time left" card
// counting down with the counter, what the page says of the session
// following a new one, and keeping the long form's unsaved work across a
// timeout for the user who typed it. Pages work without it.
(() => {
  'use strict';

  // Time left: the card shows what the counter next to the avatar shows.
  // The widget keeps the counter's text at its deadline (corrected for
  // clock skew, moved by every response and by the other tabs) and
  // rewrites it each second, hidden or not; the card copies each change.
  // The card is looked up at each copy: a new session replaces it (below).
  const left = () => document.querySelector('[data-stat="time_left"]');
  const counter = document.querySelector('.logout-counter');
  const live = !!(left() && counter && window.MutationObserver);
  if (live) {
    const copy = () => {
      const card = left();
      if (card && counter.textContent) card.textContent = counter.textContent;
    };
    new MutationObserver(copy).observe(counter, { childList: true, characterData: true, subtree: true });
    copy();
  }

  // A new session: after a sign-in in the lock dialog the page comes back
  // as it was, but what it says of the session (sign-in time, deadline,
  // the sessions and their log: each element with data-session-view and
  // an id) described the one that ended. The widget fires logout:resumed;
  // the page is read again and those elements are replaced, focus kept
  // on the same place within them.
  const path = (root, n) => {
    if (!n || !root.contains(n)) return null;
    const p = [];
    for (; n !== root; n = n.parentElement) p.unshift([...n.parentElement.children].indexOf(n));
    return p;
  };
  document.addEventListener('logout:resumed', () => {
    const views = [...document.querySelectorAll('[data-session-view][id]')];
    if (!views.length || !window.fetch || !window.DOMParser) return;
    window
      .fetch(location.href, { headers: { Accept: 'text/html' }, credentials: 'same-origin', cache: 'no-store' })
      .then((r) => {
        if (!r.ok) throw Error(String(r.status));
        return r.text();
      })
      .then((html) => {
        const doc = new DOMParser().parseFromString(html, 'text/html');
        for (const v of views) {
          const n = doc.getElementById(v.id);
          if (!n || !v.isConnected) continue;
          const fresh = document.importNode(n, true);
          const p = path(v, document.activeElement);
          v.replaceWith(fresh);
          const f = p && p.reduce((x, i) => x && x.children[i], fresh);
          if (f && f.focus) f.focus({ preventScroll: true });
        }
      })
      .catch(() => {}); // the page stays as it was; a reload shows the new session
  });

  // Refresh stats: a fetch to the JSON endpoint. As a backend request it
  // extends the session, and the counter (which reads every response's
  // Logout-Deadline header) restarts.
  const stats = document.querySelector('[data-stats-url]');
  if (stats && window.fetch) {
    const status = stats.querySelector('[data-stats-status]');
    stats.querySelector('form').addEventListener('submit', (e) => {
      e.preventDefault();
      window.fetch(stats.dataset.statsUrl, {
        headers: { Accept: 'application/json' },
        credentials: 'same-origin',
        cache: 'no-store',
      })
        .then((r) => {
          if (!r.ok) throw Error(String(r.status));
          return r.json();
        })
        .then((j) => {
          for (const [k, v] of Object.entries(j)) {
            if (k === 'time_left' && live) continue; // the counter's, above
            const dd = stats.querySelector('[data-stat="' + k + '"]');
            if (dd) dd.textContent = v;
          }
          status.textContent = stats.dataset.statsUpdated;
        })
        .catch(() => {
          status.textContent = stats.dataset.statsFailed;
        });
    });
  }

  // Settings: a policy chosen fills the lengths with its limits (without
  // the script, the server applies a policy chosen with the numbers left
  // unchanged), and per-user rules can be added and removed.
  const policy = document.querySelector('[data-policy] select');
  if (policy) {
    const status = document.querySelector('[data-policy-status]');
    policy.addEventListener('change', () => {
      const o = policy.selectedOptions[0];
      if (!o || !o.dataset.lifetime) return;
      document.getElementById('f-lifetime').value = o.dataset.lifetime;
      document.getElementById('f-absolute_lifetime').value = o.dataset.absolute;
      if (status) status.textContent = status.dataset.filled.replace('%s', o.textContent);
    });
  }
  const rules = document.querySelector('[data-override-list]');
  if (rules) {
    const add = document.querySelector('[data-override-add]');
    const label = (el, n) => {
      el.textContent = el.textContent.replace(/\d+(?!.*\d)/, String(n));
    };
    const wire = (li) => {
      const remove = li.querySelector('[data-override-remove]');
      remove.hidden = false;
      remove.addEventListener('click', () => {
        li.remove();
        add.focus();
      });
    };
    rules.querySelectorAll('[data-override]').forEach(wire);
    add.hidden = false;
    add.addEventListener('click', () => {
      const rows = rules.querySelectorAll('[data-override]');
      const n = rows.length ? Math.max(...[...rows].map((r) => +r.querySelector('input').id.replace(/\D/g, ''))) + 1 : 1;
      const tpl = rows.length ? rows[rows.length - 1] : null;
      if (!tpl) return;
      const li = tpl.cloneNode(true);
      li.querySelectorAll('.field-error').forEach((e) => e.remove());
      li.querySelectorAll('input').forEach((i) => {
        i.value = '';
        i.removeAttribute('aria-invalid');
        i.id = i.id.replace(/\d+$/, String(n));
        i.setAttribute('aria-describedby', i.name === 'override_user' ? 'overrides-help' : '');
        if (!i.getAttribute('aria-describedby')) i.removeAttribute('aria-describedby');
      });
      li.querySelectorAll('label').forEach((l) => {
        l.htmlFor = l.htmlFor.replace(/\d+$/, String(n));
        label(l, n);
      });
      label(li.querySelector('[data-override-remove]'), n);
      rules.appendChild(li);
      wire(li);
      li.querySelector('input').focus();
    });
  }

  // Drafts: when the session times out, the widget fires logout:expired
  // as it locks or leaves the page; the long form is kept in localStorage under
  // the user's ID and restored at that user's next visit, until it is
  // saved or discarded. Another user's dashboard reads only its own key.
  const prefix = 'backend:draft:';

  // An explicit sign-out (the Sign out button, or "Sign out now" in the
  // warning dialog) removes every draft kept by this browser, whoever
  // typed it: a shared computer hands no one's text to the next person.
  // The widget signs out by fetch, then fires logout:expired here and, by
  // its broadcast, in the other tabs, with the sign-in URL's reason=manual:
  // no tab keeps a draft then.
  const forgetAll = () => {
    try {
      for (let i = localStorage.length - 1; i >= 0; i--) {
        const k = localStorage.key(i);
        if (k && k.startsWith(prefix)) localStorage.removeItem(k);
      }
    } catch (_) {}
  };
  let signingOut = false;
  const signOut = () => {
    signingOut = true;
    forgetAll();
  };
  document.addEventListener('click', (e) => {
    if (e.target.closest && e.target.closest('[data-logout-sign-out]')) signOut();
  }, true);
  document.addEventListener('submit', (e) => {
    if (e.target.matches && e.target.matches('form[data-sign-out]')) signOut();
  }, true);

  // When the session ends the widget locks the page in place and fires
  // logout:expired (the draft is kept, as above, in case the tab is
  // closed). Another user signing in there fires logout:switched before
  // the widget leaves for that user's start page: the first user's draft
  // goes. The same user resuming fires logout:resumed: the form is live
  // again, so the kept copy goes too.
  const forgetUser = (e) => {
    try {
      localStorage.removeItem(prefix + e.detail.user);
    } catch (_) {}
  };
  document.addEventListener('logout:switched', forgetUser);
  document.addEventListener('logout:resumed', forgetUser);
  const manual = (u) => {
    try {
      return new URL(u, location.href).searchParams.get('reason') === 'manual';
    } catch (_) {
      return false;
    }
  };

  const form = document.querySelector('form[data-draft-key]');
  if (!form || !form.dataset.draftKey) {
    document.addEventListener('logout:expired', (e) => {
      if (signingOut || manual(e.detail && e.detail.url)) forgetAll();
    });
    return;
  }
  const key = prefix + form.dataset.draftKey;
  const fields = () =>
    [...form.elements].filter((f) => f.name && f.name !== 'csrf_token' && (f.type === 'text' || f.type === 'textarea'));
  const forget = () => {
    try {
      localStorage.removeItem(key);
    } catch (_) {}
  };
  document.addEventListener('logout:expired', (e) => {
    if (signingOut || manual(e.detail && e.detail.url)) return forgetAll();
    const data = {};
    let changed = false;
    for (const f of fields()) {
      data[f.name] = f.value;
      changed = changed || f.value !== f.defaultValue;
    }
    if (!changed) return;
    try {
      localStorage.setItem(key, JSON.stringify({ at: Date.now(), data }));
    } catch (_) {}
  });
  form.addEventListener('submit', forget);

  let saved = null;
  try {
    saved = JSON.parse(localStorage.getItem(key) || 'null');
  } catch (_) {}
  if (!saved || !saved.data) return;
  for (const f of fields()) {
    if (typeof saved.data[f.name] === 'string') f.value = saved.data[f.name];
  }
  const note = document.querySelector('[data-draft-notice]');
  if (!note) return;
  note.hidden = false;
  note.querySelector('[data-draft-discard]').addEventListener('click', () => {
    forget();
    form.reset();
    note.hidden = true;
  });
})();

// Backend page scripts: "Refresh stats" by fetch, and keeping the long
// form's unsaved work across a sign-out. Pages work without it.
(() => {
  'use strict';

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

  // Drafts: when the session ends, the widget fires logout:expired before
  // it leaves the page; the form is kept in localStorage and restored at
  // the next visit, until it is saved or discarded.
  const form = document.querySelector('form[data-draft-key]');
  if (!form) return;
  const key = 'backend:draft:' + form.dataset.draftKey;
  const fields = () =>
    [...form.elements].filter((f) => f.name && f.name !== 'csrf_token' && (f.type === 'text' || f.type === 'textarea'));
  const forget = () => {
    try {
      localStorage.removeItem(key);
    } catch (_) {}
  };
  document.addEventListener('logout:expired', () => {
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

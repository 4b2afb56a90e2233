// logout-proxy: puts the counter into the element that the profile's CSS
// selector names, and floats it as a badge in the page's corner where
// there is none, or while that element is hidden (WordPress's fullscreen
// editor hides its admin bar) or gone (a panel that swaps its body).
(function () {
  "use strict";
  var box = document.querySelector(".logout-proxy-counter[data-logout-proxy-target]");
  if (!box) return;
  var sel = box.getAttribute("data-logout-proxy-target");
  // A list holds list items only (WordPress's admin bar is a <ul>): in
  // one, the counter sits in an item of its own.
  var item = document.createElement("li");
  item.className = "logout-proxy-item";
  var place = function () {
    var target = null;
    try { target = sel ? document.querySelector(sel) : null; } catch (e) { target = null; }
    var shown = target && target.getClientRects().length > 0;
    var list = shown && /^(UL|OL|MENU)$/.test(target.tagName);
    var where = !shown ? document.body : list ? item : target;
    if (list && item.parentNode !== target) target.appendChild(item);
    if (!list && item.parentNode) item.parentNode.removeChild(item);
    if (box.parentNode !== where) where.appendChild(box);
    box.classList.toggle("logout-proxy-float", !shown);
  };
  place();
  var wait = 0;
  var later = function () { if (!wait) wait = setTimeout(function () { wait = 0; place(); }, 100); };
  new MutationObserver(later).observe(document.body, { attributes: true, attributeFilter: ["class"], childList: true });
  addEventListener("resize", later);
})();

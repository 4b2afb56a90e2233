// logout-proxy: moves the counter into the element that the profile's CSS
// selector names; without one it stays a floating badge.
(function () {
  "use strict";
  var box = document.querySelector(".logout-proxy-counter[data-logout-proxy-target]");
  if (!box) return;
  var sel = box.getAttribute("data-logout-proxy-target");
  var target = null;
  try { target = sel ? document.querySelector(sel) : null; } catch (e) { target = null; }
  if (target) {
    target.appendChild(box);
    box.classList.remove("logout-proxy-float");
  }
})();

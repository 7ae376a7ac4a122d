/* The main navigation on a phone: one "Menu" button that shows and hides the links.
 * Without this script the button stays hidden and the links show, as on a desktop. */
(function () {
  "use strict";
  var toggle = document.getElementById("main-nav-toggle");
  var list = document.getElementById("main-nav-list");
  if (!toggle || !list) {
    return;
  }
  document.documentElement.classList.add("nav-collapsible");
  toggle.hidden = false;
  toggle.addEventListener("click", function () {
    var open = toggle.getAttribute("aria-expanded") === "true";
    toggle.setAttribute("aria-expanded", open ? "false" : "true");
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && toggle.getAttribute("aria-expanded") === "true") {
      toggle.setAttribute("aria-expanded", "false");
      toggle.focus();
    }
  });
})();

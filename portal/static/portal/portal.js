/* The portal: install the service worker (offline help and safety plan), and forget the offline
   copies when the person signs out (a shared phone keeps nothing). */
(function () {
  "use strict";
  var body = document.body;
  var worker = body.getAttribute("data-service-worker");
  if (worker && "serviceWorker" in navigator && body.hasAttribute("data-idle-seconds")) {
    navigator.serviceWorker.register(worker, { scope: "/me/" }).catch(function () {});
  }
  var logout = document.getElementById("logout-form");
  if (logout) {
    logout.addEventListener("submit", function () {
      if (window.caches) { caches.delete("portal-offline-v1"); }
      if (navigator.serviceWorker && navigator.serviceWorker.controller) {
        navigator.serviceWorker.controller.postMessage("forget");
      }
    });
  }
})();

/* The portal's service worker (served at /me/sw.js, scope /me/): keeps the help page and the
   safety plan so they open without a connection. Those pages are fetched from the network
   first (always the latest when online) and fall back to the last copy offline. Nothing else
   is kept. The copies are deleted when the person signs out (portal.js). */
"use strict";
var CACHE = "portal-offline-v1";
var OFFLINE_PAGES = __OFFLINE_PAGES__;

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE).then(function (cache) {
      return Promise.all(OFFLINE_PAGES.map(function (url) {
        return fetch(url, { credentials: "same-origin" }).then(function (response) {
          if (response.ok && !response.redirected) { return cache.put(url, response); }
        }).catch(function () {});
      }));
    }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(self.clients.claim());
});

self.addEventListener("message", function (event) {
  if (event.data === "forget") { event.waitUntil(caches.delete(CACHE)); }
});

self.addEventListener("fetch", function (event) {
  var url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin || OFFLINE_PAGES.indexOf(url.pathname) < 0) {
    return;
  }
  event.respondWith(
    fetch(event.request).then(function (response) {
      if (response.ok && !response.redirected) {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { cache.put(url.pathname, copy); });
      }
      return response;
    }).catch(function () {
      return caches.match(url.pathname).then(function (kept) {
        return kept || new Response("Offline", { status: 503, headers: { "Content-Type": "text/plain" } });
      });
    })
  );
});

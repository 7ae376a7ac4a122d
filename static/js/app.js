/* Idle-timeout warning. The server ends idle sessions; this only warns first.
 * Reads data-idle-seconds and data-idle-warning-seconds from <body>. The clock
 * restarts on page load, on every htmx request and on the person's own input
 * (typing, clicking, touching, scrolling: sent to the server as a keep-alive at
 * most once a minute, so the server's idle clock restarts too), and is shared
 * across tabs through localStorage (a timestamp only, never page content). */
(function () {
  "use strict";
  var body = document.body;
  var idleSeconds = parseInt(body.dataset.idleSeconds || "0", 10);
  var warningSeconds = parseInt(body.dataset.idleWarningSeconds || "120", 10);
  var dialog = document.getElementById("idle-warning");
  var keepaliveForm = document.getElementById("idle-keepalive-form");
  var countdown = document.getElementById("idle-countdown");
  var logoutForm = document.getElementById("logout-form");
  if (!idleSeconds || !dialog || !keepaliveForm || !logoutForm) {
    return;
  }
  var STORAGE_KEY = "pps-last-server-activity";
  // Input reaches the server at most once a minute (sooner when the timeout itself is short).
  var INPUT_KEEPALIVE_MS = Math.min(60 * 1000, idleSeconds * 250);
  var lastActivity = Date.now();
  var signingOut = false;
  var keepaliveInFlight = false;

  function shared() {
    try {
      var stored = parseInt(window.localStorage.getItem(STORAGE_KEY) || "0", 10);
      return Math.max(stored, lastActivity);
    } catch (e) {
      return lastActivity;
    }
  }

  function touched() {
    lastActivity = Date.now();
    try {
      window.localStorage.setItem(STORAGE_KEY, String(lastActivity));
    } catch (e) { /* storage may be disabled; this tab still keeps its own clock */ }
    if (dialog.open) {
      dialog.close();
    }
  }

  function format(seconds) {
    var minutes = Math.floor(seconds / 60);
    var rest = seconds % 60;
    return minutes + ":" + (rest < 10 ? "0" : "") + rest;
  }

  function signOut() {
    if (signingOut) { return; }
    signingOut = true;
    // Drafts still unsaved go to the server first (drafts.js), and signing in again comes back
    // to this page, where the draft is restored.
    document.dispatchEvent(new CustomEvent("pps:before-signout"));
    var next = document.createElement("input");
    next.type = "hidden";
    next.name = "next";
    next.value = window.location.pathname + window.location.search;
    logoutForm.appendChild(next);
    logoutForm.submit();
  }

  function stay() {
    if (keepaliveInFlight) { return; }
    keepaliveInFlight = true;
    var request = new XMLHttpRequest();
    request.open("POST", keepaliveForm.action);
    request.onload = function () {
      keepaliveInFlight = false;
      if (request.status === 204) {
        touched();
      } else {
        signOut();
      }
    };
    request.onerror = function () {
      keepaliveInFlight = false;
      signOut();
    };
    request.send(new FormData(keepaliveForm));
  }

  // The person's input is activity: once a minute at most, tell the server.
  function inputSeen() {
    if (signingOut) { return; }
    if (Date.now() - shared() >= INPUT_KEEPALIVE_MS) {
      stay();
    }
  }

  function tick() {
    var left = idleSeconds - Math.floor((Date.now() - shared()) / 1000);
    if (left <= 0) {
      signOut();
      return;
    }
    if (left <= warningSeconds) {
      countdown.textContent = format(left);
      if (!dialog.open) {
        dialog.showModal();
      }
    } else if (dialog.open) {
      dialog.close();  // another tab kept the session alive
    }
  }

  keepaliveForm.addEventListener("submit", function (event) {
    if (event.submitter && event.submitter.getAttribute("form") === "logout-form") {
      return;
    }
    event.preventDefault();
    stay();
  });
  // Escape closes the dialog: the person is evidently there, so treat it as "stay".
  dialog.addEventListener("cancel", function (event) {
    event.preventDefault();
    stay();
  });
  document.addEventListener("htmx:afterRequest", touched);
  ["keydown", "input", "pointerdown", "wheel", "touchstart"].forEach(function (name) {
    document.addEventListener(name, inputSeen, { capture: true, passive: true });
  });
  touched();
  window.setInterval(tick, 1000);
})();

/* Nothing typed is lost: a form marked <form data-draft="<key>" data-draft-url="..."> (a note,
 * feedback) is saved on the server as a draft while the person types: two seconds after the
 * last keystroke, when a field loses focus, and when the page is hidden or left (a beacon).
 * The server keeps it encrypted, gives it back when the same person opens the form again (also
 * after the idle sign-out) and deletes it once the note or feedback is saved. Without this
 * script the form works as before, without drafts. No inline script: the CSP refuses them. */
(function () {
  "use strict";
  var SAVE_AFTER_MS = 2000;
  var LEAVING_MS = 300;

  function setUp(form) {
    var key = form.getAttribute("data-draft");
    var url = form.getAttribute("data-draft-url");
    if (!key || !url) { return; }
    var status = form.querySelector(".ps-draft-status");
    var timer = null;
    var dirty = false;
    var sending = false;
    var stopped = false;
    var submitting = false;

    function say(name) {
      if (status) { status.textContent = status.getAttribute("data-" + name) || ""; }
    }
    function body() {
      var data = new FormData(form);
      data.set("draft_form", key);
      return data;
    }
    function later() {
      if (timer) { window.clearTimeout(timer); }
      timer = window.setTimeout(save, SAVE_AFTER_MS);
    }
    function save() {
      timer = null;
      if (!dirty || stopped || submitting) { return; }
      if (sending) { later(); return; }  // one request at a time; the newest text goes next
      dirty = false;
      sending = true;
      var request = new XMLHttpRequest();
      request.open("POST", url);
      request.onload = function () {
        sending = false;
        if (request.status === 204) {
          say("saved");
        } else if (request.status === 401 || (request.responseURL || "").indexOf("/accounts/login") !== -1) {
          stopped = true;  // signed out: what was saved before stays on the server
          say("signed-out");
        } else {
          dirty = true;
          say("failed");
        }
      };
      request.onerror = function () {
        sending = false;
        dirty = true;  // offline: try again at the next change or when the field is left
        say("failed");
      };
      request.send(body());
    }
    function changed() {
      dirty = true;
      later();
    }
    function flush() {
      if (dirty && !stopped && !submitting && navigator.sendBeacon) {
        if (navigator.sendBeacon(url, body())) { dirty = false; }
      }
    }
    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
    // Leaving a field saves at once, unless the form is being sent: focus leaves the field just
    // before the submit button's click, so wait a moment for the submit to cancel it.
    form.addEventListener("focusout", function () {
      if (dirty) {
        if (timer) { window.clearTimeout(timer); }
        timer = window.setTimeout(save, LEAVING_MS);
      }
    });
    form.addEventListener("submit", function () {
      submitting = true;
      if (timer) { window.clearTimeout(timer); }
    });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") { flush(); }
    });
    window.addEventListener("pagehide", flush);
    // app.js asks before it signs an idle person out.
    document.addEventListener("pps:before-signout", flush);
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[data-draft]"), setUp);
})();

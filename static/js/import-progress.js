// Polls an import job's status and moves the progress bar; reloads the page when the job stops.
(function () {
  "use strict";
  var box = document.querySelector("[data-status-url]");
  if (!box) { return; }
  var bar = box.querySelector("progress");
  var text = box.querySelector(".import-progress-text");
  var url = box.getAttribute("data-status-url");

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { window.setTimeout(poll, 3000); return; }
        bar.value = data.progress;
        text.textContent = data.progress + "%";
        if (data.running) { window.setTimeout(poll, 1000); } else { window.location.reload(); }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
}());

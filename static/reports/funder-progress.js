// Polls the status of reports being generated and moves their progress bars.
// External file (no inline script) so it runs under a strict CSP.
(function () {
  "use strict";
  var bars = document.querySelectorAll("progress.js-report-progress");
  if (!bars.length) { return; }
  function poll(bar) {
    fetch(bar.dataset.statusUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(function (data) {
        bar.value = data.progress;
        bar.textContent = data.progress + "%";
        var label = document.querySelector('label[for="' + bar.id + '"]');
        if (label) { label.textContent = data.status_label + " (" + data.progress + "%)"; }
        if (data.done) { window.location.reload(); } else { window.setTimeout(function () { poll(bar); }, 1000); }
      })
      .catch(function () { window.setTimeout(function () { poll(bar); }, 5000); });
  }
  Array.prototype.forEach.call(bars, poll);
})();

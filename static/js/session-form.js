/* The session form on a phone: find a client of the caseload by typing part of a name (the
 * list is most recently seen first; the first few show until a name is typed), and a
 * one-to-one keeps one client ticked. Without this script every client shows and the server
 * checks the count. */
(function () {
  "use strict";
  var form = document.querySelector(".ps-session-form");
  if (!form) { return; }
  var SHOWN_WITHOUT_SEARCH = 5;
  var box = form.querySelector(".ps-client-search");
  var search = document.getElementById("client-search");
  var more = form.querySelector(".ps-client-more");
  var rows = Array.prototype.slice.call(form.querySelectorAll(".ps-client"));

  function plain(text) {
    return (text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  function filter() {
    var words = plain(search.value).split(/\s+/).filter(Boolean);
    var hiddenCount = 0;
    rows.forEach(function (row, index) {
      var ticked = row.querySelector("input[type=checkbox]").checked;
      var name = plain(row.getAttribute("data-name"));
      var match = words.length
        ? words.every(function (word) { return name.indexOf(word) !== -1; })
        : index < SHOWN_WITHOUT_SEARCH;
      row.hidden = !(match || ticked);
      if (row.hidden) { hiddenCount += 1; }
    });
    if (more) {
      more.hidden = hiddenCount === 0;
      more.textContent = (words.length ? more.getAttribute("data-no-match") : more.getAttribute("data-more"))
        .replace("%s", String(hiddenCount));
    }
  }

  if (box && search && rows.length) {
    box.hidden = false;
    search.addEventListener("input", filter);
    search.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") { return; }
      event.preventDefault();  // Enter picks the only match instead of sending the form
      var shown = rows.filter(function (row) { return !row.hidden; });
      var unticked = shown.filter(function (row) { return !row.querySelector("input").checked; });
      if (shown.length === 1 && unticked.length === 1) {
        unticked[0].querySelector("input").click();
      }
    });
    filter();
  }

  function oneToOne() {
    var chosen = form.querySelector("input[name=kind]:checked");
    return chosen && chosen.value === "one_to_one";
  }

  form.addEventListener("change", function (event) {
    var box = event.target;
    if (box.name !== "clients" || !box.checked || !oneToOne()) { return; }
    rows.forEach(function (row) {
      var other = row.querySelector("input[type=checkbox]");
      if (other !== box) { other.checked = false; }
    });
    if (search && search.value) {
      search.value = "";
      filter();
    }
  });
})();

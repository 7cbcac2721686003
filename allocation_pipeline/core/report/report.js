// Filters of the runs list, and the row of the run shown in detail. Details themselves open with
// CSS :target from plain links, so the report reads the same with scripts off. Nothing is fetched.
(function () {
  "use strict";
  var filters = Array.prototype.slice.call(document.querySelectorAll("select[data-filter]"));
  var rows = Array.prototype.slice.call(document.querySelectorAll("#runs-table tbody tr"));
  var count = document.getElementById("runs-count");

  function applyFilters() {
    var shown = 0;
    rows.forEach(function (row) {
      var keep = filters.every(function (select) {
        return !select.value || row.getAttribute("data-" + select.getAttribute("data-filter")) === select.value;
      });
      row.hidden = !keep;
      if (keep) { shown += 1; }
    });
    if (count) { count.textContent = shown + " of " + rows.length + " runs shown"; }
  }

  function markSelected() {
    var id = decodeURIComponent(location.hash.slice(1));
    rows.forEach(function (row) {
      row.classList.toggle("selected", "run-" + row.getAttribute("data-run-anchor") === id);
    });
  }

  filters.forEach(function (select) { select.addEventListener("change", applyFilters); });
  var clear = document.getElementById("clear-filters");
  if (clear) {
    clear.addEventListener("click", function () {
      filters.forEach(function (select) { select.value = ""; });
      applyFilters();
    });
  }
  window.addEventListener("hashchange", markSelected);
  applyFilters();
  markSelected();
})();

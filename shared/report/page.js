// Filters and search, all in the page: no request of any kind (the page's CSP forbids them).
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var verdict = $("f-verdict"), cluster = $("f-cluster"), code = $("f-code"), search = $("f-search");
  if (!verdict) { return; }
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.row"));
  var groups = Array.prototype.slice.call(document.querySelectorAll("table.conn tbody"));
  var texts = rows.map(function (row) { return row.textContent.toLowerCase(); });
  var compliant = $("compliant");
  function apply() {
    var v = verdict.value, c = cluster.value, k = code.value, q = search.value.trim().toLowerCase();
    var shown = 0;
    rows.forEach(function (row, i) {
      var group = row.parentNode.getAttribute("data-cluster");
      var match = (!v || row.getAttribute("data-verdict") === v) && (!c || group === c) &&
        (!k || (" " + row.getAttribute("data-codes") + " ").indexOf(" " + k + " ") >= 0) &&
        (!q || texts[i].indexOf(q) >= 0 || group.indexOf(q) >= 0);
      row.hidden = !match;
      if (match) { shown += 1; }
    });
    groups.forEach(function (g) { g.hidden = !g.querySelector("tr.row:not([hidden])"); });
    if (compliant && (v === "Compliant" || ((c || k || q) && compliant.querySelector("tr.row:not([hidden])")))) {
      compliant.open = true;
    }
    $("no-match").hidden = shown > 0;
    $("shown").textContent = (v || c || k || q) ? "showing " + shown + " of " + rows.length + " connections"
      : rows.length + " connections";
    Array.prototype.forEach.call(document.querySelectorAll(".card"), function (card) {
      card.classList.toggle("active", card.getAttribute("data-verdict") === v);
    });
  }
  [verdict, cluster, code].forEach(function (el) { el.addEventListener("change", apply); });
  search.addEventListener("input", apply);
  Array.prototype.forEach.call(document.querySelectorAll(".card"), function (card) {
    card.addEventListener("click", function () {
      var wanted = card.getAttribute("data-verdict");
      verdict.value = verdict.value === wanted ? "" : wanted;
      apply();
    });
  });
  apply();
  window.scReportReady = performance.now();
})();

// Filter and sort the statistics table in place. No network, no eval: reads the rows' text and data-* attributes.
(function () {
  "use strict";
  var table = document.getElementById("statistics");
  if (!table) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var text = rows.map(function (r) { return r.textContent.toLowerCase(); });
  var filter = document.getElementById("filter");
  var selects = Array.prototype.slice.call(document.querySelectorAll("select[data-column]"));
  var shown = document.getElementById("shown");
  function apply() {
    var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    var n = 0;
    rows.forEach(function (r, i) {
      var ok = words.every(function (w) { return text[i].indexOf(w) !== -1; }) &&
        selects.every(function (s) { return !s.value || r.getAttribute("data-" + s.getAttribute("data-column")) === s.value; });
      r.hidden = !ok;
      if (ok) { n += 1; }
    });
    shown.textContent = String(n);
  }
  filter.addEventListener("input", apply);
  selects.forEach(function (s) { s.addEventListener("change", apply); });
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  heads.forEach(function (th, col) {
    th.tabIndex = 0;
    function sort() {
      var descending = th.getAttribute("aria-sort") === "ascending";
      heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", descending ? "descending" : "ascending");
      var numeric = th.getAttribute("data-type") === "num";
      function key(r) {
        var cell = r.cells[col];
        var v = cell.hasAttribute("data-v") ? cell.getAttribute("data-v") : cell.textContent;
        if (numeric) { return v === "" ? null : parseFloat(v); }
        return v.trim().toLowerCase();
      }
      var keyed = rows.map(function (r, i) { return [key(r), i, r]; });
      keyed.sort(function (a, b) {
        if (a[0] === b[0]) { return a[1] - b[1]; }
        if (a[0] === null || a[0] === "") { return 1; }   // blanks last either way
        if (b[0] === null || b[0] === "") { return -1; }
        var c = a[0] < b[0] ? -1 : 1;
        return descending ? -c : c;
      });
      keyed.forEach(function (k) { body.appendChild(k[2]); });
    }
    th.addEventListener("click", sort);
    th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sort(); } });
  });
  apply();
}());

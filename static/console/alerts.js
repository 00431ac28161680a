// The alerts inbox: "tick every open alert on this page" for the bulk acknowledge. Without
// JavaScript the box stays hidden and each alert is ticked on its own; the form posts
// either way. The list is swapped by htmx and rows arrive live, so events are delegated.
(function () {
  "use strict";
  function boxes() {
    return Array.prototype.slice.call(
      document.querySelectorAll('#alert-items input[type=checkbox][name=alert]'));
  }
  function reveal() {
    var all = document.getElementById("alert-select-all");
    if (all) all.hidden = false;
  }
  function reflect() {
    var all = document.getElementById("alert-select-all");
    if (!all) return;
    var ticked = boxes().filter(function (box) { return box.checked; }).length;
    all.checked = ticked > 0 && ticked === boxes().length;
    all.indeterminate = ticked > 0 && ticked < boxes().length;
  }
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.id === "alert-select-all") {
      boxes().forEach(function (box) { box.checked = target.checked; });
    } else if (target.name === "alert" && target.closest("#alert-items")) {
      reflect();
    }
  });
  document.addEventListener("DOMContentLoaded", reveal);
  document.addEventListener("htmx:afterSettle", reveal);
  document.addEventListener("tellus:swapped", reflect);
})();

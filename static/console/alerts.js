// The alerts inbox: "tick every open alert on this page" for the bulk acknowledge, and
// rows that stay as the reader left them when a live update redraws them (opened, ticked).
// Without JavaScript the select-all box stays hidden and each alert is ticked on its own;
// the forms post either way. The list is swapped by htmx and rows arrive live (live.js
// fires "tellus:swapped" on each), so every listener is on the document.
(function () {
  "use strict";
  var opened = {};  // row id -> its evidence is open
  var ticked = {};  // alert id -> its box is ticked

  function boxes() {
    return Array.prototype.slice.call(
      document.querySelectorAll("#alert-items input[type=checkbox][name=alert]"));
  }
  function reveal() {
    var all = document.getElementById("alert-select-all");
    if (all) all.hidden = false;
  }
  function reflect() {
    var all = document.getElementById("alert-select-all");
    if (!all) return;
    var count = boxes().filter(function (box) { return box.checked; }).length;
    all.checked = count > 0 && count === boxes().length;
    all.indeterminate = count > 0 && count < boxes().length;
  }
  function remember(box) {
    if (box.checked) ticked[box.value] = true;
    else delete ticked[box.value];
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.id === "alert-select-all") {
      boxes().forEach(function (box) { box.checked = target.checked; remember(box); });
    } else if (target.name === "alert" && target.closest("#alert-items")) {
      remember(target);
      reflect();
    }
  });
  // "toggle" does not bubble: listen while it is captured.
  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (!details.classList || !details.classList.contains("alert-expand")) return;
    var row = details.closest("tr.alert-row");
    if (!row) return;
    if (details.open) opened[row.id] = true;
    else delete opened[row.id];
  }, true);
  document.addEventListener("tellus:swapped", function (event) {
    var row = event.target;
    if (row.matches && row.matches("tr.alert-row")) {
      var details = row.querySelector("details.alert-expand");
      if (details && opened[row.id]) details.open = true;
      var box = row.querySelector("input[name=alert]");
      if (box && ticked[box.value]) box.checked = true;
    }
    reflect();
  });
  document.addEventListener("DOMContentLoaded", reveal);
  document.addEventListener("htmx:afterSettle", function () {
    ticked = {};  // a new list (filters, paging, acknowledged): nothing ticked in it
    reveal();
  });
})();

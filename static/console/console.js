// Times are rendered in UTC on the server; show them in the reader's own time zone and
// keep UTC on hover. Runs again on every fragment htmx swaps in.
(function () {
  "use strict";
  var format = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit"
  });
  function localise(root) {
    var times = (root || document).querySelectorAll("time[datetime]");
    for (var i = 0; i < times.length; i++) {
      var el = times[i];
      if (el.dataset.localised) continue;
      var at = new Date(el.getAttribute("datetime"));
      if (isNaN(at)) continue;
      el.title = at.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
      el.textContent = format.format(at);
      el.dataset.localised = "1";
    }
  }
  // "N s ago" beside a time that matters while one watches (a heartbeat's age).
  function age(seconds) {
    if (seconds < 90) return Math.max(0, Math.round(seconds)) + " s ago";
    if (seconds < 5400) return Math.round(seconds / 60) + " min ago";
    if (seconds < 172800) return Math.round(seconds / 3600) + " h ago";
    return Math.round(seconds / 86400) + " days ago";
  }
  function tick() {
    var ages = document.querySelectorAll("[data-since]");
    for (var i = 0; i < ages.length; i++) {
      var since = new Date(ages[i].dataset.since);
      if (!isNaN(since)) ages[i].textContent = age((Date.now() - since) / 1000);
    }
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", function () { localise(document); tick(); });
  document.addEventListener("htmx:afterSettle", function (event) { localise(event.target); });
  // Fragments pushed by live.js.
  document.addEventListener("tellus:swapped", function (event) { localise(event.target); tick(); });
})();

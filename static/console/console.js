// Times are rendered on the server in the reader's chosen zone, with the zone shown
// (console/web/times.py); nothing here rewrites them. What ticks in the page is the
// "N s ago" beside a time that matters while one watches (a heartbeat's age).
(function () {
  "use strict";
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
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSettle", tick);
  // Fragments pushed by live.js.
  document.addEventListener("tellus:swapped", tick);
})();

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
  document.addEventListener("DOMContentLoaded", function () { localise(document); });
  document.addEventListener("htmx:afterSettle", function (event) { localise(event.target); });
})();

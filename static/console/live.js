// Live updates: a page whose <body> names a `data-live` socket path receives rendered
// fragments over a WebSocket and swaps each in for the element with the same id. The page
// is complete without it (a reload shows the truth); the status in the top bar says when
// updates are paused, and the socket reconnects by itself with a growing delay.
// The server sends a keep-alive every 10 s: "Live" is shown only while frames or
// keep-alives arrive; after STALE_MS without either the page says its updates are stale,
// closes the socket and reconnects (asking for every fragment again: `resume=1`).
(function () {
  "use strict";
  var FINAL = { 4401: "Live updates stopped: sign in again to resume.",
                4404: "Live updates stopped: reload the page." };
  var KEEPALIVE = "<!--keep-alive-->";
  var STALE_MS = 25000;

  function start() {
    var path = document.body.dataset.live;
    if (!path || !window.WebSocket) return;
    var status = document.getElementById("live-status");
    var delay = 1000;

    function show(state, text) {
      if (!status) return;
      status.dataset.state = state;
      status.textContent = text;
    }

    function swap(html) {
      var holder = document.createElement("template");
      holder.innerHTML = html;
      Array.prototype.slice.call(holder.content.children).forEach(function (node) {
        if (node.dataset.liveInsert) {
          insert(node);
          return;
        }
        var old = node.id && document.getElementById(node.id);
        if (old) {
          old.replaceWith(node);
          settled(node);
        }
      });
    }

    function settled(node) {
      if (window.htmx) window.htmx.process(node);
      node.dispatchEvent(new CustomEvent("tellus:swapped", { bubbles: true }));
    }

    // New items go first in their list (an alert just opened), known ones are replaced;
    // with no list on the page yet (its empty state), the list is fetched again.
    function insert(wrapper) {
      var list = document.getElementById(wrapper.dataset.liveInsert);
      if (!list) {
        var fallback = wrapper.dataset.liveFallback;
        if (fallback && window.htmx && document.getElementById(fallback)) {
          window.htmx.ajax("GET", location.href, { target: "#" + fallback, swap: "outerHTML" });
        }
        return;
      }
      Array.prototype.slice.call(wrapper.children).reverse().forEach(function (item) {
        var old = item.id && document.getElementById(item.id);
        if (old) old.replaceWith(item);
        else list.insertBefore(item, list.firstElementChild);
        settled(item);
      });
    }

    // An open live page is someone watching: it renews the session well inside the idle
    // limit, so its updates flow for as long as it stays open (console/web/views/session.py).
    var renewPath = document.body.dataset.renew;
    var renewMs = 1000 * (parseInt(document.body.dataset.renewSeconds, 10) || 900);
    if (renewPath && window.fetch) {
      setInterval(function () {
        window.fetch(renewPath, { credentials: "same-origin", cache: "no-store" })
          .catch(function () {});
      }, renewMs);
    }

    var heard = 0;  // when the last frame or keep-alive arrived
    var resumed = false;

    function connect() {
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      var socket = new WebSocket(scheme + location.host + path + (resumed ? "&resume=1" : ""));
      var watch = null;
      socket.onopen = function () {
        delay = 1000;
        heard = Date.now();
        show("live", "Live");
        watch = setInterval(function () {
          if (Date.now() - heard < STALE_MS) return;
          // A silent socket may never finish closing: let it go and open another now.
          clearInterval(watch);
          socket.onmessage = socket.onclose = null;
          socket.close();
          resumed = true;
          show("stale", "Updates stale — reconnecting…");
          setTimeout(connect, 0);
        }, 1000);
      };
      socket.onmessage = function (event) {
        heard = Date.now();
        if (status && status.dataset.state !== "live") show("live", "Live");
        if (event.data !== KEEPALIVE) swap(event.data);
      };
      socket.onclose = function (event) {
        clearInterval(watch);
        resumed = true;
        if (FINAL[event.code]) {
          show("stopped", FINAL[event.code]);
          return;
        }
        show("paused", "Live updates paused, reconnecting…");
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 30000);
      };
    }
    connect();
  }
  document.addEventListener("DOMContentLoaded", start);
})();

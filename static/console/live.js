// Live updates: a page whose <body> names a `data-live` socket path receives rendered
// fragments over a WebSocket and swaps each in for the element with the same id. The page
// is complete without it (a reload shows the truth); the status in the top bar says when
// updates are paused, and the socket reconnects by itself with a growing delay.
(function () {
  "use strict";
  var FINAL = { 4401: "Live updates stopped: sign in again to resume.",
                4404: "Live updates stopped: reload the page." };

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

    function connect() {
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      var socket = new WebSocket(scheme + location.host + path);
      socket.onopen = function () {
        delay = 1000;
        show("live", "Live");
      };
      socket.onmessage = function (event) { swap(event.data); };
      socket.onclose = function (event) {
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

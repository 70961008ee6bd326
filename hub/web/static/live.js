// Live updates over Server-Sent Events. Events carry ids only; the page fetches
// the content itself. The browser reconnects with Last-Event-ID on its own.
(function () {
  "use strict";
  if (!window.EventSource) { return; }
  var page = document.body.dataset.page;
  var messageId = document.body.dataset.messageId;
  // Start where the page's data was read, so an event during a reload is not lost;
  // the browser's own reconnects then send Last-Event-ID.
  var from = document.body.dataset.liveFrom;
  var source = new EventSource("/api/v1/events" + (from ? "?after=" + encodeURIComponent(from) : ""));
  function editing() {
    var el = document.activeElement;
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT");
  }
  source.addEventListener("message", function () {
    if (page === "inbox" && !editing() && window.scrollY < 200) {
      window.location.reload();
    } else {
      document.getElementById("live-banner").hidden = false;
    }
  });
  // A deadline passed for a group that reaches this user: the inbox shows it on top.
  source.addEventListener("escalation", function () {
    if (page === "inbox" && !editing() && window.scrollY < 200) {
      window.location.reload();
    } else {
      document.getElementById("escalation-banner").hidden = false;
    }
  });
  // A message on this page was recorded in (or could not reach) a journal.
  source.addEventListener("journal", function (event) {
    var data = JSON.parse(event.data);
    if (page === "message" && data.message_id === messageId && !editing()) {
      window.location.reload();
    }
  });
  // Journal events are hints without a stream position: one sent before this stream
  // opened is not replayed. So a page still waiting for a journal asks once the stream
  // is open (anything later comes as an event).
  var waiting = document.querySelectorAll("[data-journal-pending]").length;
  if (page === "message" && waiting) {
    source.addEventListener("open", function () {
      fetch("/api/v1/messages/" + encodeURIComponent(messageId) + "/journal",
            {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) { return response.ok ? response.json() : []; })
        .then(function (entries) {
          var pending = entries.filter(function (e) { return e.state === "pending"; }).length;
          if (pending < waiting && !editing()) { window.location.reload(); }
        });
    });
  }
  source.addEventListener("receipt", function (event) {
    var data = JSON.parse(event.data);
    if (page === "message" && data.message_id === messageId && !editing()) {
      window.location.reload();
    }
  });
})();

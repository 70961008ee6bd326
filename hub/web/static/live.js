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
  function show(id) {
    document.querySelector("#" + id + " p").hidden = false;
  }
  // The inbox takes new rows in place: the page is fetched again and the rows it does
  // not show yet go on top, so focus, scroll and anything typed stay as they were.
  // The live region says how many came.
  var refreshing = false;
  var again = false;  // an event came while a fetch was out: fetch once more after it
  function ownPage(response) {
    // After the session ended, the fetch lands on the sign-in page: that is no update.
    return response.ok && !response.redirected
      && (response.headers.get("Content-Type") || "").indexOf("text/html") === 0;
  }
  function refreshInbox() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    again = false;
    fetch(window.location.href, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (response) { return ownPage(response) ? response.text() : null; })
      .then(function (html) {
        refreshing = false;
        if (again) { refreshInbox(); }
        if (html === null) { show("live-banner"); return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var list = document.getElementById("inbox-list");
        var freshList = fresh.getElementById("inbox-list");
        var head = document.getElementById("inbox-head");
        var freshHead = fresh.getElementById("inbox-head");
        if (!list || !freshList || !head || !freshHead) { show("live-banner"); return; }
        head.replaceWith(document.importNode(freshHead, true));
        var known = {};
        Array.prototype.forEach.call(list.children, function (li) { known[li.dataset.id] = true; });
        var added = Array.prototype.filter.call(freshList.children, function (li) {
          return !known[li.dataset.id];
        });
        if (!added.length) { return; }
        var before = document.documentElement.scrollHeight;
        var atTop = window.scrollY < 50;
        added.reverse().forEach(function (li) {
          list.insertBefore(document.importNode(li, true), list.firstChild);
        });
        list.hidden = false;
        var empty = document.getElementById("inbox-empty");
        if (empty) { empty.hidden = true; }
        if (!atTop) { window.scrollBy(0, document.documentElement.scrollHeight - before); }
        var region = document.querySelector("#live-banner p");
        region.textContent = (added.length === 1 ? document.body.dataset.newOne
          : document.body.dataset.newMany.replace("{n}", added.length));
        region.hidden = false;
      })
      .catch(function () {
        refreshing = false;
        show("live-banner");
      });
  }
  source.addEventListener("message", function () {
    if (page === "inbox") { refreshInbox(); } else { show("live-banner"); }
  });
  // A deadline passed for a group that reaches this user: the inbox shows it on top.
  source.addEventListener("escalation", function () {
    if (page === "inbox") { refreshInbox(); } else { show("escalation-banner"); }
  });
  // The message page takes its receipts and journal state in place (the part is
  // fetched again; the message itself is not opened again), keeping focus and scroll.
  function refreshStatus() {
    fetch("/meddelanden/" + encodeURIComponent(messageId) + "/status",
          {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (response) { return ownPage(response) ? response.text() : null; })
      .then(function (html) {
        var status = document.getElementById("message-status");
        if (html === null || !status) { return; }
        var focused = document.activeElement && status.contains(document.activeElement)
          ? document.activeElement.id || document.activeElement.getAttribute("name") : null;
        status.innerHTML = html;
        if (focused) {
          var again = document.getElementById(focused)
            || status.querySelector("[name='" + focused + "']");
          if (again) { again.focus(); }
        }
        var region = document.querySelector("#live-banner p");
        region.textContent = document.body.dataset.statusChanged;
        region.hidden = false;
      })
      .catch(function () { show("live-banner"); });
  }
  function forThisMessage(event) {
    var data = JSON.parse(event.data);
    return page === "message" && data.message_id === messageId;
  }
  // A message on this page was read, acknowledged, recorded in a journal (or could
  // not be).
  source.addEventListener("receipt", function (event) {
    if (forThisMessage(event)) { refreshStatus(); }
  });
  source.addEventListener("journal", function (event) {
    if (forThisMessage(event)) { refreshStatus(); }
  });
  // Journal events are hints without a stream position: one sent before this stream
  // opened is not replayed. So a page still waiting for a journal asks once the stream
  // is open (anything later comes as an event).
  if (page === "message" && document.querySelector("[data-journal-pending]")) {
    source.addEventListener("open", refreshStatus, {once: true});
  }
})();

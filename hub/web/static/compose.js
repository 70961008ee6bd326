// The compose form: find contact groups as you type, and see whom a personnummer
// names before sending (the organizations engaged with the person move first).
(function () {
  "use strict";
  var list = document.getElementById("group-list");
  var filter = document.getElementById("group-filter");
  var none = document.getElementById("group-filter-none");

  function matches(text, words) {
    text = text.toLocaleLowerCase("sv");
    return words.every(function (w) { return text.indexOf(w) !== -1; });
  }

  if (filter && list) {
    filter.addEventListener("input", function () {
      var words = filter.value.toLocaleLowerCase("sv").split(/\s+/).filter(Boolean);
      var shown = 0;
      Array.prototype.forEach.call(list.querySelectorAll(".org"), function (org) {
        var orgText = org.querySelector(".org-name").textContent;
        var any = false;
        Array.prototype.forEach.call(org.querySelectorAll("label.check"), function (label) {
          var input = label.querySelector("input");
          var visible = !words.length || input.checked
            || matches(orgText + " " + label.textContent, words);
          label.hidden = !visible;
          if (visible) { any = true; shown += 1; }
        });
        org.hidden = !any;
      });
      none.hidden = shown !== 0;
    });
    // Enter in the search box picks nothing and must not send the form.
    filter.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); }
    });
  }

  var pnr = document.getElementById("personnummer");
  var shown = document.getElementById("person-shown");
  if (!pnr || !shown || !window.fetch) { return; }
  var asked = "";
  var engagedText = shown.dataset.engaged || "";

  function moveEngagedFirst(organizations) {
    if (!list) { return; }
    var orgs = Array.prototype.slice.call(list.querySelectorAll(".org"));
    orgs.forEach(function (org) {
      var badge = org.querySelector(".badge.engaged");
      var engaged = organizations.indexOf(org.dataset.org) !== -1;
      if (engaged && !badge && engagedText) {
        badge = document.createElement("span");
        badge.className = "badge engaged";
        badge.textContent = engagedText;
        var name = org.querySelector(".org-name");
        name.appendChild(document.createTextNode(" "));
        name.appendChild(badge);
      } else if (!engaged && badge) {
        badge.remove();
      }
    });
    orgs.filter(function (org) { return organizations.indexOf(org.dataset.org) !== -1; })
      .reverse().forEach(function (org) { list.insertBefore(org, list.firstChild); });
  }

  function ask() {
    var digits = pnr.value.replace(/[^0-9]/g, "");
    if (digits.length !== 10 && digits.length !== 12) {
      if (!digits.length) { shown.textContent = ""; }
      return;
    }
    if (pnr.value === asked) { return; }
    asked = pnr.value;
    fetch("/skriv/person", {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
      body: new URLSearchParams({personnummer: pnr.value})
    }).then(function (response) {
      var json = (response.headers.get("Content-Type") || "").indexOf("application/json") === 0;
      return json && !response.redirected ? response.json() : {};
    }).then(function (data) {
      if (pnr.value !== asked) { return; }
      shown.textContent = "";
      if (data.label) {
        shown.appendChild(document.createTextNode(shown.dataset.about + ": "));
        var strong = document.createElement("strong");
        strong.textContent = data.label;
        shown.appendChild(strong);
        moveEngagedFirst(data.organizations || []);
      } else {
        shown.textContent = data.problem || "";
      }
    }).catch(function () { asked = ""; });
  }
  pnr.addEventListener("input", ask);
  pnr.addEventListener("change", ask);
})();

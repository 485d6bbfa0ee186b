// The run page's live part is replaced every few seconds while the run is active. Screen
// readers hear its state only when it changes: the new copy's data-announce is written into
// the page's status region (#run-announcer) when it differs from what was last said.
(function () {
  "use strict";

  var lastSaid = null;

  function liveText() {
    var live = document.getElementById("run-live");
    return live ? live.getAttribute("data-announce") || "" : null;
  }

  function announceIfChanged() {
    var text = liveText();
    var announcer = document.getElementById("run-announcer");
    if (text === null || !announcer || text === lastSaid) {
      return;
    }
    lastSaid = text;
    announcer.textContent = text;
  }

  document.addEventListener("DOMContentLoaded", function () {
    // The state is on the page already: nothing to say until it changes.
    lastSaid = liveText();
    document.body.addEventListener("htmx:afterSettle", announceIfChanged);
  });
})();

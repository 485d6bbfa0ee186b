// Copy buttons: <button data-copy-target="ID"> copies the value of the field with that id,
// and says so in the element with data-copy-status="ID". No inline script (strict CSP).
(function () {
  "use strict";

  function say(id, text) {
    var status = document.querySelector('[data-copy-status="' + id + '"]');
    if (status) {
      status.textContent = text;
    }
  }

  function copyBySelecting(field) {
    field.focus();
    field.select();
    try {
      return document.execCommand("copy");
    } catch (error) {
      return false;
    }
  }

  function copy(button) {
    var id = button.getAttribute("data-copy-target");
    var field = document.getElementById(id);
    if (!field) {
      return;
    }
    var done = function () { say(id, "Copied."); };
    var failed = function () {
      say(id, copyBySelecting(field) ? "Copied." : "Select the text and copy it by hand.");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, failed);
    } else {
      failed();
    }
  }

  // A page that shows a secret once answers a POST: turn its history entry into a plain GET,
  // so reloading it or coming back to it never sends the form (and makes a new secret) again.
  if (document.querySelector("[data-shown-once]") && window.history.replaceState) {
    window.history.replaceState(null, "", window.location.href);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (button) {
      copy(button);
    }
  });
})();

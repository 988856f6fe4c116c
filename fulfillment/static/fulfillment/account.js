/* The account page's copy button (SPEC §9). A static file: the Content-Security-Policy allows
   no inline script. Falls back to selecting the URL where the clipboard API is missing. */
(function () {
  "use strict";
  var button = document.getElementById("copy-notify-url");
  var field = document.getElementById("notify-url");
  var status = document.getElementById("copy-status");
  if (!button || !field || !status) {
    return;
  }
  function fallback() {
    field.focus();
    field.select();
    field.setSelectionRange(0, field.value.length);
    try { return document.execCommand("copy"); } catch (error) { return false; }
  }
  function done(ok) {
    status.textContent = ok ? "Copied." : "Press Ctrl+C (⌘C on a Mac) to copy the selected URL.";
  }
  field.addEventListener("focus", function () { field.select(); });
  button.addEventListener("click", function () {
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(function () { done(true); }, function () { done(fallback()); });
    } else {
      done(fallback());
    }
  });
})();

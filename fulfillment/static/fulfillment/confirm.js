/* Ask before submitting any form that carries `data-confirm="<question>"` (admin and account
   pages). Replaces inline `onsubmit` handlers, which the Content-Security-Policy forbids. */
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
})();

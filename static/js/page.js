// Behaviour every page shares, kept out of the HTML: the page CSP forbids inline scripts and
// on*= handlers.
(function () {
  "use strict";

  // <form data-confirm="Question?"> asks before submitting.
  document.addEventListener("submit", (event) => {
    const question = event.target.dataset && event.target.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  }, true);

  // The budget notice refreshes after the Generate area itself settles (not its children):
  // an htmx trigger filter would need eval, which the CSP forbids.
  document.addEventListener("htmx:afterSettle", (event) => {
    if (event.target.id === "generate-area") {
      event.target.dispatchEvent(new CustomEvent("generate-area-settled"));
    }
  });
})();

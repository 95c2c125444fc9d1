// The browsable API page (templates/rest_framework/api.html) made accessible where DRF's
// template has no block to change: its <html> carries no lang, and the format menu's caret
// button is named only by a title that Bootstrap's tooltip removes on load.
(function () {
  "use strict";
  if (!document.documentElement.lang) document.documentElement.lang = "en";
  function nameButtons() {
    document.querySelectorAll(".dropdown-toggle:not([aria-label])").forEach((button) => {
      const title = button.getAttribute("title") || button.dataset.originalTitle;
      button.setAttribute("aria-label", title || "More options");
    });
  }
  nameButtons();
  window.addEventListener("load", nameButtons);
})();

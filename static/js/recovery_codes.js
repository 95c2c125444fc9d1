// The recovery codes page: copy the codes, or save them as a text file. The codes are read
// from the page's list (never sent anywhere); without scripts the list can be selected.
(function () {
  "use strict";

  function codesOf(button, attribute) {
    const list = document.getElementById(button.getAttribute(attribute));
    return Array.from(list.querySelectorAll("code"), (code) => code.textContent.trim());
  }

  function toast(message, kind) {
    if (window.ImagegenUI && window.ImagegenUI.toast) window.ImagegenUI.toast(message, { kind });
  }

  document.addEventListener("click", (event) => {
    const copy = event.target.closest("[data-copy-codes]");
    if (copy) {
      const text = codesOf(copy, "data-copy-codes").join("\n") + "\n";
      navigator.clipboard.writeText(text).then(
        () => toast("Recovery codes copied.", "success"),
        () => toast("Could not copy: select the codes and copy them yourself.", "error"),
      );
      return;
    }
    const save = event.target.closest("[data-download-codes]");
    if (save) {
      const text = "imagegen recovery codes (each works once)\n\n"
        + codesOf(save, "data-download-codes").join("\n") + "\n";
      const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
      const link = document.createElement("a");
      link.href = url;
      link.download = save.dataset.filename || "recovery-codes.txt";
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
      toast("Recovery codes saved.", "success");
    }
  });
})();

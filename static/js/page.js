// Behaviour every page shares, kept out of the HTML: the page CSP forbids inline scripts and
// on*= handlers. Exposes window.ImagegenUI.toast (feedback for every action).
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

  /* ---- the top bar's menu button (narrow screens) ---- */
  document.addEventListener("click", (event) => {
    const toggle = event.target.closest(".nav-toggle");
    if (!toggle) return;
    const bar = toggle.closest(".topbar");
    const open = !bar.classList.contains("is-open");
    bar.classList.toggle("is-open", open);
    toggle.setAttribute("aria-expanded", String(open));
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const bar = document.querySelector(".topbar.is-open");
    if (!bar) return;
    bar.classList.remove("is-open");
    const toggle = bar.querySelector(".nav-toggle");
    toggle.setAttribute("aria-expanded", "false");
    toggle.focus();
  });

  /* ---- toasts ---- */
  const DEFAULT_EXPIRY_MS = 6000;

  function region() {
    let list = document.getElementById("toasts");
    if (!list) {
      list = document.createElement("div");
      list.id = "toasts";
      list.className = "toasts";
      list.setAttribute("role", "region");
      list.setAttribute("aria-label", "Notifications");
      document.body.appendChild(list);
    }
    return list;
  }

  function dismiss(item) {
    if (item && item.parentNode) item.parentNode.removeChild(item);
  }

  // Adds the close button and the expiry to a toast element (server-rendered or new).
  function arm(item, expireMs) {
    if (item.dataset.armed) return;
    item.dataset.armed = "1";
    const close = document.createElement("button");
    close.type = "button";
    close.className = "link";
    close.textContent = "Dismiss";
    close.addEventListener("click", () => dismiss(item));
    item.appendChild(close);
    if (expireMs > 0) {
      let timer = setTimeout(() => dismiss(item), expireMs);
      // Hovering or focusing keeps it: a reader is not cut off mid-sentence.
      item.addEventListener("mouseenter", () => clearTimeout(timer));
      item.addEventListener("focusin", () => clearTimeout(timer));
      item.addEventListener("mouseleave", () => { timer = setTimeout(() => dismiss(item), expireMs); });
    }
  }

  /**
   * toast(text, {kind: "info"|"success"|"warning"|"error", action: {label, run}, expire: ms})
   * Errors stay until dismissed; others expire (6 s by default). An action (e.g. "Undo") is a
   * button that runs once and closes the toast. Returns the element.
   */
  function toast(text, options) {
    const opts = options || {};
    const kind = opts.kind || "info";
    // Each toast is its own live region (status, or alert for errors), so it is announced.
    const item = document.createElement("div");
    item.className = "toast " + kind;
    item.setAttribute("role", kind === "error" ? "alert" : "status");
    const body = document.createElement("span");
    body.className = "toast-text";
    body.textContent = text;
    item.appendChild(body);
    if (opts.action) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "btn";
      button.textContent = opts.action.label;
      button.addEventListener("click", () => {
        dismiss(item);
        opts.action.run();
      });
      item.appendChild(button);
    }
    region().appendChild(item);
    const expire = opts.expire !== undefined ? opts.expire : (kind === "error" ? 0 : DEFAULT_EXPIRY_MS);
    arm(item, expire);
    return item;
  }

  function armServerToasts() {
    document.querySelectorAll("#toasts .toast").forEach((item) => {
      arm(item, Number(item.dataset.expire || DEFAULT_EXPIRY_MS));
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", armServerToasts);
  } else {
    armServerToasts();
  }

  window.ImagegenUI = {toast: toast};
})();

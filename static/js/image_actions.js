/* The image action bar (the include gallery/_image_actions.html): favorite, rating, add to
 * project, "Edit and more", download, "use these settings", copy prompt and delete, for every
 * bar on the page.
 *
 * Contract
 * - Markup: <div data-image-actions data-id data-image-url data-favorite-url
 *   data-projects-url data-prompt role="toolbar">, rendered by the include; URLs come from
 *   those data- attributes and from this script's own tag (_image_actions_assets.html:
 *   data-estimate-url, data-generate-url, data-generation-url, data-generation-page-url,
 *   data-gallery-url), never written here.
 * - Menus marked data-lazy="<url>" are filled from that server fragment each time they open
 *   (the project picker; "Edit and more", gallery.pages.image_tools).
 * - "Edit and more": its links go to the Generate page; its run items (.ia-run: Upscale ×2,
 *   ×4, Remove background) carry data-operation, data-scale, data-provider, data-model (and
 *   data-project). When the menu opens each asks the estimate API and shows the
 *   result's size and price ("free" on the offline provider); an item stays aria-disabled
 *   with its reason (data-reason) until then, or when no model the user can use does it or
 *   the estimate refused it. Choosing one posts the same body to the generate API; a toast
 *   follows the generation (live.js's imagegen:generation, or a re-read on imagegen:resync)
 *   and links to the result (the gallery's #image-<id> anchor, which gallery.js opens in its lightbox),
 *   then fires imagegen:image-made {id, from, operation}. Errors are the API's words.
 * - Delegated on document: bars that htmx (or any script) adds later work at once.
 * - Feedback: a toast for every action (window.ImagegenUI.toast, page.js); errors stay.
 * - Events on document after a change succeeded:
 *     imagegen:image-changed  detail {id, favorite} | {id, rating} | {id, project, projectName}
 *     imagegen:image-deleted  detail {id}; cancelable: unless a listener calls
 *                             preventDefault(), elements with data-image-item="<id>" are removed.
 *   Every bar of the same image on the page is updated before the event fires.
 * - Delete asks with confirm(): the server deletes the row at once and the files after
 *   commit, so there is nothing to undo; an Undo toast would need a deferred delete that a
 *   closed tab loses, or a trash the store does not have.
 * - window.ImagegenImageActions = {favorite(id), rate(id, n), remove(id)}: the same actions
 *   for keyboard shortcuts (the lightbox's f, 1-5, Del); they need a bar of that image.
 * - Keyboard: one Tab stop per bar (roving tabindex), ← → / Home End between its controls;
 *   a menu opens on Enter/Space/↓ and takes ↑ ↓ Home End Enter Esc Tab.
 */
(function () {
  "use strict";

  if (window.ImagegenImageActions) return;  // a second copy (an htmx fragment) does nothing
  const api = () => window.ImagegenApi;
  const config = (document.currentScript && document.currentScript.dataset) || {};

  function toast(text, options) {
    if (window.ImagegenUI) return window.ImagegenUI.toast(text, options);
    return null;
  }

  function fail(result) {
    toast(api().errorText(result.data, "Error " + result.status + "; try again."), {kind: "error"});
  }

  function barsOf(id) {
    return Array.from(document.querySelectorAll('[data-image-actions][data-id="' + id + '"]'));
  }

  function anyBar(id) {
    return barsOf(id)[0] || null;
  }

  function emit(name, detail, cancelable) {
    const event = new CustomEvent(name, {detail: detail, cancelable: !!cancelable});
    document.dispatchEvent(event);
    return event;
  }

  /* ---- showing state on every bar of an image ---- */

  function showFavorite(id, favorite) {
    barsOf(id).forEach((bar) => {
      const button = bar.querySelector('[data-action="favorite"]');
      if (button) button.setAttribute("aria-pressed", String(favorite));
    });
  }

  function showRating(id, rating) {
    barsOf(id).forEach((bar) => {
      const button = bar.querySelector('[data-action="rating"]');
      if (!button) return;
      button.dataset.rating = String(rating);
      button.setAttribute("aria-label", "Rating: " + (rating ? rating + " of 5" : "none"));
      button.querySelector(".ia-rating-value").textContent = rating ? String(rating) : "–";
      button.parentNode.querySelectorAll("[data-rating].ia-item").forEach((item) => {
        item.setAttribute("aria-checked", String(Number(item.dataset.rating) === rating));
      });
    });
  }

  /* ---- the actions ---- */

  async function favorite(id) {
    const bar = anyBar(id);
    if (!bar) return;
    const result = await api().request("POST", bar.dataset.favoriteUrl);
    if (!result.ok) return fail(result);
    showFavorite(id, result.data.favorite);
    toast(result.data.favorite ? "Added to favorites" : "Removed from favorites",
          {kind: "success", expire: 3000});
    emit("imagegen:image-changed", {id: id, favorite: result.data.favorite});
  }

  async function rate(id, rating) {
    const bar = anyBar(id);
    if (!bar) return;
    const result = await api().request("PATCH", bar.dataset.imageUrl, {rating: rating});
    if (!result.ok) return fail(result);
    showRating(id, result.data.rating);
    toast(result.data.rating ? "Rated " + result.data.rating + " of 5" : "Rating removed",
          {kind: "success", expire: 3000});
    emit("imagegen:image-changed", {id: id, rating: result.data.rating});
  }

  async function move(id, project, name) {
    const bar = anyBar(id);
    if (!bar) return;
    const result = await api().request("PATCH", bar.dataset.imageUrl,
                                       {project: project === "" ? null : Number(project)});
    if (!result.ok) return fail(result);
    toast(project === "" ? "Removed from its project" : "Added to " + name,
          {kind: "success", expire: 4000});
    emit("imagegen:image-changed",
         {id: id, project: result.data.project, projectName: project === "" ? "" : name});
  }

  async function remove(id) {
    const bar = anyBar(id);
    if (!bar) return;
    if (!window.confirm("Delete this image? This cannot be undone.")) return;
    const result = await api().request("DELETE", bar.dataset.imageUrl);
    if (!result.ok) return fail(result);
    toast("Image deleted", {kind: "success", expire: 4000});
    const event = emit("imagegen:image-deleted", {id: id}, true);
    if (!event.defaultPrevented) {
      document.querySelectorAll('[data-image-item="' + id + '"]').forEach((el) => el.remove());
    }
  }

  async function copyPrompt(bar) {
    const text = bar.dataset.prompt || "";
    let copied = false;
    if (navigator.clipboard && window.isSecureContext) {
      try { await navigator.clipboard.writeText(text); copied = true; } catch (error) { /* below */ }
    }
    if (!copied) {  // plain http on another host: the old way
      const area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "sr-only";
      document.body.appendChild(area);
      area.select();
      try { copied = document.execCommand("copy"); } catch (error) { copied = false; }
      area.remove();
    }
    if (copied) toast("Prompt copied", {kind: "success", expire: 3000});
    else toast("Could not copy the prompt; select it in the details instead.", {kind: "error"});
  }

  /* ---- menus (rating, project) ---- */

  let openMenu = null;  // {button, menu}

  function menuItems(menu) {
    return Array.from(menu.querySelectorAll(".ia-item"));
  }

  function place(button, menu) {
    // Fixed, so no tile or panel clips it; kept inside the viewport. CSSOM custom
    // properties: the page CSP allows them (it forbids style attributes).
    const rect = button.getBoundingClientRect();
    const width = menu.offsetWidth;
    const height = menu.offsetHeight;
    const left = Math.max(8, Math.min(rect.left, window.innerWidth - width - 8));
    let top = rect.bottom + 4;
    if (top + height > window.innerHeight - 8) top = Math.max(8, rect.top - height - 4);
    menu.style.setProperty("--menu-left", left + "px");
    menu.style.setProperty("--menu-top", top + "px");
  }

  function closeMenu(returnFocus) {
    if (!openMenu) return;
    const {button, menu} = openMenu;
    openMenu = null;
    menu.hidden = true;
    button.setAttribute("aria-expanded", "false");
    if (returnFocus) button.focus();
  }

  async function fill(bar, menu) {
    menu.innerHTML = '<span class="ia-menu-note muted small" role="none">Loading…</span>';
    let html = null;
    try {
      const response = await fetch(menu.dataset.lazy || bar.dataset.projectsUrl,
                                   {credentials: "same-origin"});
      if (response.ok) html = await response.text();
    } catch (error) { html = null; }
    if (html === null) {
      menu.innerHTML = "";
      toast(menu.dataset.failed || "Could not load the menu; try again.", {kind: "error"});
      return false;
    }
    menu.innerHTML = html;
    if (menu.classList.contains("ia-tools")) priceRuns(bar, menu);
    return true;
  }

  async function toggleMenu(button) {
    const menu = button.parentNode.querySelector(".ia-menu");
    if (openMenu && openMenu.button === button) { closeMenu(true); return; }
    closeMenu(false);
    openMenu = {button: button, menu: menu};
    button.setAttribute("aria-expanded", "true");
    menu.hidden = false;
    place(button, menu);
    if (menu.hasAttribute("data-lazy")) {
      const ok = await fill(button.closest("[data-image-actions]"), menu);
      if (!openMenu || openMenu.menu !== menu) return;
      if (!ok) { closeMenu(true); return; }
      place(button, menu);
    }
    const items = menuItems(menu);
    const checked = items.find((item) => item.getAttribute("aria-checked") === "true");
    (checked || items[0] || button).focus();
  }

  function choose(item) {
    const bar = item.closest("[data-image-actions]");
    const id = Number(bar.dataset.id);
    if (item.tagName === "A") return;  // a link: let it navigate
    if (item.classList.contains("ia-run")) { runOperation(bar, item); return; }
    closeMenu(true);
    if (item.dataset.rating !== undefined) rate(id, Number(item.dataset.rating));
    else if (item.dataset.project !== undefined) move(id, item.dataset.project, item.dataset.name);
  }

  /* ---- "Edit and more": prices, runs, and following what a run makes ---- */

  // A toast with a link in it (after its text): page.js's toast takes buttons, not links.
  function toastLink(text, options, link) {
    const item = toast(text, options);
    if (!item || !link) return item;
    const anchor = document.createElement("a");
    anchor.className = "toast-link";
    anchor.href = link.href;
    anchor.textContent = link.text;
    if (link.openImage) anchor.dataset.openImage = String(link.openImage);
    item.querySelector(".toast-text").after(anchor);
    return item;
  }

  // An API error in words, without the field names (scale, input_images) a menu item's
  // reader has no use for: the messages already say what is wrong.
  function plainError(data, fallback) {
    if (!data || typeof data !== "object" || data.detail) return api().errorText(data, fallback);
    const messages = [];
    const walk = (value) => {
      if (Array.isArray(value)) value.forEach(walk);
      else if (value && typeof value === "object") Object.values(value).forEach(walk);
      else if (value !== null && value !== "") messages.push(String(value));
    };
    walk(data);
    return messages.join(" ") || fallback;
  }

  function runBody(bar, item) {
    const body = {operation: item.dataset.operation, input_images: [Number(bar.dataset.id)],
                  provider: item.dataset.provider, model: item.dataset.model};
    if (item.dataset.scale) body.scale = Number(item.dataset.scale);
    if (item.dataset.project) body.project = Number(item.dataset.project);
    return body;
  }

  function money(usd) {
    let text = usd.toFixed(4).replace(/0+$/, "");
    if (/\.\d?$/.test(text)) text = usd.toFixed(2);
    return "$" + text;
  }

  // The estimate's price in words: "free" on the offline provider (or at no cost).
  function priceText(data) {
    if (data.provider === "offline") return "free";
    if (data.estimate_usd === null || data.estimate_usd === undefined) return "price known after it runs";
    const usd = Number(data.estimate_usd);
    return usd === 0 ? "free" : "est. " + money(usd);
  }

  function note(item, text) {
    const span = item.querySelector(".ia-item-note");
    if (span) span.textContent = text;
  }

  function priceRuns(bar, menu) {
    menu.querySelectorAll(".ia-run[data-provider]").forEach(async (item) => {
      const result = await api().request("POST", config.estimateUrl, runBody(bar, item));
      if (!menu.contains(item)) return;  // the menu was filled again meanwhile
      if (result.ok) {
        const price = priceText(result.data);
        item.dataset.price = price;
        note(item, result.data.width + "×" + result.data.height + " · " + price);
        item.removeAttribute("aria-disabled");
      } else {
        const reason = plainError(result.data, "Could not price it (error " + result.status + ").");
        item.dataset.reason = reason;
        note(item, reason);
      }
    });
  }

  const FINISHED = ["succeeded", "failed", "canceled"];
  const running = new Map();  // generation id -> {label, from, toast}

  function galleryLink(imageId) {
    return {href: config.galleryUrl + "#image-" + imageId, text: "Open it",
            openImage: imageId};
  }

  function settle(generation) {
    const run = running.get(generation.id);
    if (!run || !FINISHED.includes(generation.status)) return;
    running.delete(generation.id);
    if (run.toast) run.toast.remove();
    if (generation.status === "succeeded" && generation.images && generation.images.length) {
      const made = generation.images[0].id;
      toastLink(run.label + " is ready.", {kind: "success", expire: 10000}, galleryLink(made));
      emit("imagegen:image-made", {id: made, from: run.from, operation: generation.operation});
    } else if (generation.status === "failed") {
      toast(run.label + " failed: " + (generation.error || "no reason given."), {kind: "error"});
    } else {
      toast(run.label + " was canceled.", {kind: "info", expire: 4000});
    }
  }

  async function reread(generationId) {
    if (!config.generationUrl) return;
    const result = await api().request("GET", api().urlFor(config.generationUrl, generationId));
    if (result.ok) settle(result.data);
  }

  async function runOperation(bar, item) {
    const label = item.dataset.label || "The operation";
    if (item.getAttribute("aria-disabled") === "true") {
      toast(item.dataset.reason || "Checking the price first; try again in a moment.",
            {kind: "warning", expire: 5000});
      return;
    }
    closeMenu(true);
    const from = Number(bar.dataset.id);
    const result = await api().request("POST", config.generateUrl, runBody(bar, item));
    if (!result.ok) {
      toast(label + " did not start: " + plainError(result.data, "error " + result.status + "."),
            {kind: "error"});
      return;
    }
    const generation = result.data;
    const page = config.generationPageUrl
      ? {href: api().urlFor(config.generationPageUrl, generation.id), text: "Follow it"} : null;
    const started = toastLink(label + " started (" + (item.dataset.price || "") + ").",
                              {kind: "info", expire: 0}, page);
    running.set(generation.id, {label: label, from: from, toast: started});
    if (FINISHED.includes(generation.status)) settle(generation);
    else reread(generation.id);  // it may have finished before this page heard of it
  }

  document.addEventListener("imagegen:generation", (event) => {
    const detail = event.detail || {};
    if (running.has(detail.id) && FINISHED.includes(detail.status)) reread(detail.id);
  });
  document.addEventListener("imagegen:resync", () => {
    Array.from(running.keys()).forEach(reread);
  });

  /* ---- wiring: everything delegated on document ---- */

  document.addEventListener("click", (event) => {
    const item = event.target.closest("[data-image-actions] .ia-item");
    if (item) { choose(item); return; }
    const control = event.target.closest("[data-image-actions] [data-action]");
    if (!control) {
      if (openMenu && !event.target.closest(".ia-menu")) closeMenu(false);
      return;
    }
    const bar = control.closest("[data-image-actions]");
    const id = Number(bar.dataset.id);
    const action = control.dataset.action;
    if (action !== "rating" && action !== "project" && action !== "tools") closeMenu(false);
    if (action === "favorite") favorite(id);
    else if (action === "rating" || action === "project" || action === "tools") toggleMenu(control);
    else if (action === "copy") copyPrompt(bar);
    else if (action === "delete") remove(id);
    else if (action === "download") {
      toast("Downloading " + (control.getAttribute("download") || "the image"),
            {kind: "info", expire: 3000});
    }
    // remix: a plain link to the Generate page.
  });

  function roving(bar, target) {
    bar.querySelectorAll(".ia-control").forEach((control) => {
      control.setAttribute("tabindex", control === target ? "0" : "-1");
    });
  }

  document.addEventListener("focusin", (event) => {
    const control = event.target.closest && event.target.closest("[data-image-actions] .ia-control");
    if (control) roving(control.closest("[data-image-actions]"), control);
  });

  document.addEventListener("keydown", (event) => {
    if (openMenu && openMenu.menu.contains(event.target)) {
      const items = menuItems(openMenu.menu);
      const at = items.indexOf(event.target);
      let next = null;
      if (event.key === "ArrowDown") next = items[(at + 1) % items.length];
      else if (event.key === "ArrowUp") next = items[(at - 1 + items.length) % items.length];
      else if (event.key === "Home") next = items[0];
      else if (event.key === "End") next = items[items.length - 1];
      else if (event.key === "Escape") { event.preventDefault(); event.stopPropagation(); closeMenu(true); return; }
      else if (event.key === "Tab") { closeMenu(false); return; }
      if (next) { event.preventDefault(); next.focus(); }
      return;
    }
    const control = event.target.closest && event.target.closest("[data-image-actions] .ia-control");
    if (!control) return;
    if (event.key === "ArrowDown" && control.getAttribute("aria-haspopup") === "menu") {
      event.preventDefault();
      toggleMenu(control);
      return;
    }
    const controls = Array.from(control.closest("[data-image-actions]").querySelectorAll(".ia-control"));
    const at = controls.indexOf(control);
    let next = null;
    if (event.key === "ArrowRight") next = controls[(at + 1) % controls.length];
    else if (event.key === "ArrowLeft") next = controls[(at - 1 + controls.length) % controls.length];
    else if (event.key === "Home") next = controls[0];
    else if (event.key === "End") next = controls[controls.length - 1];
    if (next) {
      event.preventDefault();
      event.stopPropagation();  // the lightbox's ← → step images only outside the bar
      next.focus();
    }
  }, true);

  // A scroll or resize moves the open menu with its button (a phone resizes the viewport as
  // its address bar slides away, and a tap may scroll a little): closing it then would take
  // the menu away under the user's finger. Only a button scrolled out of sight closes it.
  function follow() {
    if (!openMenu) return;
    const rect = openMenu.button.getBoundingClientRect();
    if (rect.bottom < 0 || rect.top > window.innerHeight) closeMenu(false);
    else place(openMenu.button, openMenu.menu);
  }
  window.addEventListener("resize", follow);
  document.addEventListener("scroll", (event) => {
    if (openMenu && !openMenu.menu.contains(event.target)) follow();
  }, true);

  window.ImagegenImageActions = {favorite: favorite, rate: rate, remove: remove};
})();

/* The image action bar (the include gallery/_image_actions.html): favorite, rating, add to
 * project, download, "use these settings", copy prompt and delete, for every bar on the page.
 *
 * Contract
 * - Markup: <div data-image-actions data-id data-image-url data-favorite-url
 *   data-projects-url data-prompt role="toolbar">, rendered by the include; URLs come from
 *   those data- attributes (never written here).
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
      const response = await fetch(bar.dataset.projectsUrl, {credentials: "same-origin"});
      if (response.ok) html = await response.text();
    } catch (error) { html = null; }
    if (html === null) {
      menu.innerHTML = "";
      toast("Could not load your projects; try again.", {kind: "error"});
      return false;
    }
    menu.innerHTML = html;
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
    closeMenu(true);
    if (item.dataset.rating !== undefined) rate(id, Number(item.dataset.rating));
    else if (item.dataset.project !== undefined) move(id, item.dataset.project, item.dataset.name);
  }

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
    if (action !== "rating" && action !== "project") closeMenu(false);
    if (action === "favorite") favorite(id);
    else if (action === "rating" || action === "project") toggleMenu(control);
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

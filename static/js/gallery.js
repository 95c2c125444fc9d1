/* The gallery (and a project's images): filters that apply as they change and sit in the URL,
 * removable chips, selection mode with its bulk bar, drag-and-drop onto projects, new images
 * arriving live, uploads (the gallery page's Upload button, or files dropped on the page), and
 * the lightbox (focus trap, back gesture, swipes, keyboard) with the image's lineage.
 *
 * Any link marked data-open-image="<id>" (the lineage in the details panel, the action bar's
 * "ready" toasts) opens that image in the lightbox, also one the grid does not show; a page
 * loaded with the anchor #image-<id> opens it at once.
 *
 * The server renders everything; this asks htmx for the grid's fragments and calls the JSON
 * API through ImagegenApi (api.js). URLs are data- attributes of #grid (_browser.html). The
 * image actions themselves (favorite, rating, project, delete...) are image_actions.js; this
 * file listens to their imagegen:image-changed / imagegen:image-deleted events.
 *
 * History: the filters' URL and an open lightbox are this file's own history entries
 * (pushState; back restores the previous filter set, or closes the lightbox). htmx's
 * hx-push-url would make htmx restore a whole snapshot on the popstate that closes the
 * lightbox, so it is not used here.
 */
(function () {
  "use strict";

  const grid = document.getElementById("grid");
  if (!grid || grid.dataset.ready) return;
  grid.dataset.ready = "1";
  const form = document.getElementById("gallery-filters");
  const filtersToggle = document.getElementById("filters-toggle");
  const filtersPanel = document.getElementById("filters-panel");
  const selectToggle = document.getElementById("select-toggle");
  const bulkBar = document.getElementById("bulk-bar");
  const bulkCount = document.getElementById("bulk-count");
  const lightbox = document.getElementById("lightbox");
  const lightboxImage = document.getElementById("lightbox-image");
  const details = document.getElementById("lightbox-details");
  const {request, errorText, urlFor} = window.ImagegenApi;
  const urls = grid.dataset;
  const selected = new Set();
  let currentId = null;
  let opener = null;  // the element focus returns to when the lightbox closes

  const toast = (text, options) => window.ImagegenUI && window.ImagegenUI.toast(text, options);
  const tiles = () => Array.from(grid.querySelectorAll(".tile[data-id]"));
  const tileFor = (id) => grid.querySelector('.tile[data-id="' + id + '"]');
  const plural = (n, word) => n + " " + word + (n === 1 ? "" : "s");

  /* ---- filters: applied as they change, kept in the URL ---- */

  function formQuery() {
    const params = new URLSearchParams();
    new FormData(form).forEach((value, key) => {
      if (String(value).trim() !== "") params.append(key, value);
    });
    if (params.get("sort") === "newest") params.delete("sort");  // the default
    return params.toString();
  }

  // The grid's query: what it shows now (the gallery page's URL, or the project page's source).
  function gridUrl(query) {
    if (form) return form.action + (query ? "?" + query : "");
    return urls.source;
  }

  let loading = null;
  async function loadGrid(query) {
    grid.setAttribute("aria-busy", "true");
    const url = gridUrl(query);
    loading = url;
    try {
      await window.htmx.ajax("GET", url, {target: "#grid", swap: "innerHTML"});
    } finally {
      if (loading === url) grid.removeAttribute("aria-busy");
    }
    grid.dataset.query = query || "";
    const sort = new URLSearchParams(query || "").get("sort") || "newest";
    grid.dataset.sort = sort;
    updateFilterBadge();
  }

  function apply() {
    const query = formQuery();
    if (query === (grid.dataset.query || "")) return;
    history.pushState({gallery: query}, "", form.action + (query ? "?" + query : ""));
    loadGrid(query);
  }

  function updateFilterBadge() {
    if (!filtersToggle) return;
    const params = new URLSearchParams(grid.dataset.query || "");
    const active = Array.from(params.keys()).filter((k) => k !== "q" && k !== "sort").length;
    let badge = filtersToggle.querySelector(".count-badge");
    if (active && !badge) {
      badge = document.createElement("span");
      badge.className = "count-badge";
      filtersToggle.appendChild(badge);
    }
    if (badge) {
      if (active) badge.textContent = String(active); else badge.remove();
    }
  }

  // Sets the form's fields from a query string (back and forward).
  function fillForm(query) {
    const params = new URLSearchParams(query);
    form.querySelectorAll("input[type=hidden][name=tag]").forEach((input) => input.remove());
    Array.from(form.elements).forEach((field) => {
      if (!field.name) return;
      if (field.name === "tag") {
        const tags = params.getAll("tag");
        field.value = tags[0] || "";
        tags.slice(1).forEach((tag) => {
          const extra = document.createElement("input");
          extra.type = "hidden"; extra.name = "tag"; extra.value = tag;
          field.after(extra);
        });
      } else if (field.name === "sort") {
        field.value = params.get("sort") || "newest";
      } else {
        field.value = params.get(field.name) || "";
      }
    });
  }

  function clearFilters() {
    fillForm("");
    apply();
  }

  function removeFilter(name, value) {
    if (name === "tag") {
      const hidden = Array.from(form.querySelectorAll("input[type=hidden][name=tag]"))
        .find((input) => input.value === value);
      if (hidden) hidden.remove();
      else {
        const first = form.querySelector("#filter-tag");
        const next = form.querySelector("input[type=hidden][name=tag]");
        first.value = next ? next.value : "";
        if (next) next.remove();
      }
    } else if (form.elements[name]) {
      form.elements[name].value = "";
    }
    apply();
  }

  if (form) {
    grid.dataset.query = location.search.replace(/^\?/, "");
    history.replaceState({gallery: grid.dataset.query}, "", location.href);
    let typing = null;
    form.addEventListener("input", (event) => {
      if (event.target.type !== "search" && event.target.tagName !== "INPUT") return;
      if (event.target.type === "date") return;  // "change" applies a whole date
      clearTimeout(typing);
      typing = setTimeout(apply, 350);
    });
    form.addEventListener("change", (event) => {
      if (event.target.type === "search") return;  // "input" has it
      clearTimeout(typing);
      apply();
    });
    form.addEventListener("submit", (event) => {  // Enter: at once, no page load
      event.preventDefault();
      clearTimeout(typing);
      apply();
    });
  }

  /* ---- the Filters popover ---- */

  function setFiltersOpen(open, returnFocus) {
    if (!filtersPanel) return;
    filtersPanel.hidden = !open;
    filtersToggle.setAttribute("aria-expanded", String(open));
    if (open) {
      const first = filtersPanel.querySelector("select, input");
      if (first) first.focus();
    } else if (returnFocus) {
      filtersToggle.focus();
    }
  }

  document.addEventListener("click", (event) => {
    if (event.target.closest("#filters-toggle")) {
      setFiltersOpen(filtersPanel.hidden, true);
      return;
    }
    if (event.target.closest("[data-close-filters]")) { setFiltersOpen(false, true); return; }
    if (filtersPanel && !filtersPanel.hidden && !event.target.closest(".filters-disclosure")) {
      setFiltersOpen(false, false);
    }
    const clear = event.target.closest("[data-clear-filters]");
    if (clear && form) { clearFilters(); return; }
    const chip = event.target.closest("[data-remove-filter]");
    if (chip && form) {
      const next = chip.closest("li").nextElementSibling || chip.closest("li").previousElementSibling;
      removeFilter(chip.dataset.removeFilter, chip.dataset.value);
      if (next) { const b = next.querySelector("button"); if (b) b.focus(); }
    }
  });

  /* ---- selection mode and bulk actions ---- */

  function selecting() {
    return grid.classList.contains("is-selecting");
  }

  function setSelecting(on) {
    grid.classList.toggle("is-selecting", on);
    if (selectToggle) selectToggle.textContent = on ? "Done" : "Select";
    bulkBar.hidden = !on;
    if (!on) selected.clear();
    updateBulkBar();
  }

  function updateBulkBar() {
    bulkCount.textContent = String(selected.size);
    bulkBar.querySelectorAll(".bulk-actions button, .bulk-actions select, .bulk-actions input")
      .forEach((control) => { control.disabled = selected.size === 0; });
    grid.querySelectorAll(".tile-select").forEach((box) => {
      box.checked = selected.has(Number(box.value));
      box.closest(".tile").classList.toggle("is-selected", box.checked);
    });
  }

  function toggleSelected(id, on) {
    if (on === undefined) on = !selected.has(id);
    if (on) selected.add(id); else selected.delete(id);
    updateBulkBar();
  }

  grid.addEventListener("change", (event) => {
    const box = event.target.closest(".tile-select");
    if (box) toggleSelected(Number(box.value), box.checked);
  });

  const DONE = {
    favorite: "added to favorites", unfavorite: "removed from favorites",
    set_rating: "rated", add_tag: "tagged", remove_tag: "untagged", move: "moved",
    delete: "deleted",
  };

  async function runBulk(action, ids, extra, label) {
    const result = await request("POST", urls.bulkUrl, Object.assign({ids: ids, action: action}, extra || {}));
    if (!result.ok) {
      toast(errorText(result.data, "The action failed (" + result.status + ")."), {kind: "error"});
      return result;
    }
    toast(plural(result.data.count, "image") + " " + (label || DONE[action] || action) + ".",
          {kind: "success"});
    selected.clear();
    await loadGrid(grid.dataset.query || "");
    updateBulkBar();
    return result;
  }

  async function downloadZip(ids) {
    toast("Preparing a ZIP of " + plural(ids.length, "image") + "…", {expire: 3000});
    const result = await request("POST", urls.downloadUrl, {ids: ids});
    if (!result.ok) {
      toast("The ZIP download failed (" + result.status + ").", {kind: "error"});
      return;
    }
    const disposition = result.response.headers.get("Content-Disposition") || "";
    const match = /filename="([^"]+)"/.exec(disposition);
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await result.response.blob());
    link.download = match ? match[1] : "images.zip";
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }

  bulkBar.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-bulk]");
    if (!button) return;
    const action = button.dataset.bulk;
    if (action === "done") { setSelecting(false); if (selectToggle) selectToggle.focus(); return; }
    if (action === "all") { tiles().forEach((t) => selected.add(Number(t.dataset.id))); updateBulkBar(); return; }
    const ids = Array.from(selected);
    if (!ids.length) return;
    if (action === "download") { downloadZip(ids); return; }
    if (action === "delete" && !window.confirm("Delete " + plural(ids.length, "image") + "? This cannot be undone.")) return;
    const extra = {};
    let label;
    if (action === "move") {
      const select = document.getElementById("bulk-project");
      extra.project = select.value ? Number(select.value) : null;
      label = select.value ? "moved to " + select.selectedOptions[0].textContent : "taken out of their project";
    }
    if (action === "add_tag" || action === "remove_tag") {
      extra.tag = document.getElementById("bulk-tag").value;
      label = (action === "add_tag" ? "tagged " : "untagged ") + "“" + extra.tag + "”";
    }
    await runBulk(action, ids, extra, label);
  });

  document.getElementById("bulk-rating").addEventListener("change", async (event) => {
    if (event.target.value === "" || !selected.size) return;
    const rating = Number(event.target.value);
    await runBulk("set_rating", Array.from(selected), {rating: rating},
                  rating ? "rated " + rating + " of 5" : "unrated");
    event.target.value = "";
  });

  if (selectToggle) selectToggle.addEventListener("click", () => setSelecting(!selecting()));

  /* ---- drag and drop onto a project (pointer devices; the picker does it on touch) ---- */

  grid.addEventListener("dragstart", (event) => {
    const tile = event.target.closest(".tile[data-id]");
    if (!tile) return;
    const id = Number(tile.dataset.id);
    const ids = selected.has(id) ? Array.from(selected) : [id];
    event.dataTransfer.setData("application/x-image-ids", JSON.stringify(ids));
    event.dataTransfer.setData("text/plain", ids.join(","));
    event.dataTransfer.effectAllowed = "move";
  });

  document.querySelectorAll(".project-drop").forEach((target) => {
    target.addEventListener("dragover", (event) => {
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      target.classList.add("is-over");
    });
    target.addEventListener("dragleave", () => target.classList.remove("is-over"));
    target.addEventListener("drop", async (event) => {
      event.preventDefault();
      target.classList.remove("is-over");
      let ids = [];
      try {
        ids = JSON.parse(event.dataTransfer.getData("application/x-image-ids") || "[]");
      } catch (error) {
        ids = event.dataTransfer.getData("text/plain").split(",").map(Number).filter(Boolean);
      }
      if (!ids.length) return;
      const project = target.dataset.project ? Number(target.dataset.project) : null;
      await runBulk("move", ids, {project: project},
                    project ? "moved to " + target.textContent : "taken out of their project");
    });
  });

  /* ---- tiles: open, the touch "…" button, long-press ---- */

  function closeTileActions(except) {
    grid.querySelectorAll(".tile.show-actions").forEach((tile) => {
      if (tile === except) return;
      tile.classList.remove("show-actions");
      tile.querySelector(".tile-more").setAttribute("aria-expanded", "false");
    });
  }

  function showTileActions(tile, on) {
    closeTileActions(tile);
    tile.classList.toggle("show-actions", on);
    tile.querySelector(".tile-more").setAttribute("aria-expanded", String(on));
  }

  let pressTimer = null;
  let longPressed = false;
  grid.addEventListener("pointerdown", (event) => {
    const tile = event.target.closest(".tile");
    longPressed = false;
    if (!tile || event.pointerType === "mouse" || !event.target.closest(".tile-open")) return;
    pressTimer = setTimeout(() => { longPressed = true; showTileActions(tile, true); }, 500);
  });
  ["pointerup", "pointercancel", "pointerleave"].forEach((name) =>
    grid.addEventListener(name, () => clearTimeout(pressTimer)));
  grid.addEventListener("contextmenu", (event) => {
    if (longPressed) event.preventDefault();  // the long-press opened the bar instead
  });

  grid.addEventListener("click", (event) => {
    const more = event.target.closest(".tile-more");
    if (more) {
      const tile = more.closest(".tile");
      showTileActions(tile, !tile.classList.contains("show-actions"));
      return;
    }
    const openButton = event.target.closest("[data-open]");
    if (!openButton) return;
    if (longPressed) { longPressed = false; return; }
    const id = Number(openButton.dataset.open);
    if (selecting()) { toggleSelected(id); return; }
    open(id, openButton);
  });

  document.addEventListener("click", (event) => {
    if (!event.target.closest(".tile.show-actions") && !event.target.closest(".ia-menu")) {
      closeTileActions(null);
    }
  });

  /* ---- the lightbox ---- */

  async function loadDetails(id, focus) {
    if (!details.firstElementChild || details.firstElementChild.dataset.id !== String(id)) {
      details.innerHTML = '<div class="skeleton details-skeleton"></div>';
    }
    let html = null;
    try {
      const response = await fetch(urlFor(urls.panelUrl, id), {credentials: "same-origin"});
      if (response.ok) html = await response.text();
    } catch (error) { html = null; }
    if (id !== currentId) return;  // the user moved on meanwhile
    // A reload of the same image (its "Used in" grew) keeps focus on the control it was on.
    const active = document.activeElement;
    const action = active && details.contains(active) && active.dataset ? active.dataset.action : null;
    details.innerHTML = html !== null ? html : '<p class="error">Could not load the details.</p>';
    const title = details.querySelector(".details-title");
    const again = action && details.querySelector('[data-image-actions] [data-action="' + action + '"]');
    if (focus && title) title.focus();  // came from a lineage link: say where we are now
    else if (again) again.focus();
  }

  function show(id, focus) {
    currentId = id;
    lightboxImage.src = urlFor(urls.fileUrl, id);
    const tile = tileFor(id);
    const label = tile && tile.querySelector(".tile-open").getAttribute("aria-label");
    lightboxImage.alt = label ? label.replace(/^Open: /, "") : "";
    lightbox.dataset.id = String(id);
    const all = tiles();
    const index = all.findIndex((t) => Number(t.dataset.id) === id);
    lightbox.querySelector('[data-step="-1"]').disabled = index <= 0;
    lightbox.querySelector('[data-step="1"]').disabled = index < 0 || index >= all.length - 1;
    loadDetails(id, focus);
  }

  function open(id, from) {
    opener = from || document.activeElement;
    show(id);
    lightbox.hidden = false;
    document.body.classList.add("has-lightbox");
    // The back gesture closes the viewer: it has a history entry of its own.
    history.pushState(Object.assign({}, history.state, {lightbox: id}), "");
    lightbox.querySelector(".lightbox-close").focus();
  }

  // Closes the viewer now (popstate, or when there is no entry of ours to go back over).
  function hide() {
    if (lightbox.hidden) return;
    lightbox.hidden = true;
    const id = currentId;
    currentId = null;
    lightboxImage.removeAttribute("src");
    details.innerHTML = "";
    document.body.classList.remove("has-lightbox");
    const tile = tileFor(id);
    const target = tile ? tile.querySelector(".tile-open")
                        : (opener && document.contains(opener) ? opener : null);
    if (target) target.focus(); else grid.focus();
  }

  function close() {
    if (history.state && history.state.lightbox) history.back();  // popstate hides it
    else hide();
  }

  function step(delta) {
    const all = tiles();
    const index = all.findIndex((t) => Number(t.dataset.id) === currentId);
    const next = all[index + delta];
    if (!next) return;
    const id = Number(next.dataset.id);
    show(id);
    history.replaceState(Object.assign({}, history.state, {lightbox: id}), "");
    next.scrollIntoView({block: "nearest"});  // reveals the endless-scroll trigger
  }

  window.addEventListener("popstate", (event) => {
    const state = event.state || {};
    if (!lightbox.hidden && state.lightbox !== currentId) hide();
    if (form) {
      const query = location.search.replace(/^\?/, "");
      if (query !== (grid.dataset.query || "")) {
        fillForm(query);
        loadGrid(query);
      }
    }
  });

  lightbox.addEventListener("click", (event) => {
    if (event.target.closest(".lightbox-close")) close();
    const nav = event.target.closest(".lightbox-nav");
    if (nav) step(Number(nav.dataset.step));
  });

  // Swipes on the picture: left/right step, down closes.
  let swipe = null;
  lightbox.querySelector(".lightbox-stage").addEventListener("pointerdown", (event) => {
    swipe = {x: event.clientX, y: event.clientY};
  });
  lightbox.querySelector(".lightbox-stage").addEventListener("pointerup", (event) => {
    if (!swipe) return;
    const dx = event.clientX - swipe.x;
    const dy = event.clientY - swipe.y;
    swipe = null;
    if (dy > 80 && dy > Math.abs(dx)) close();
    else if (Math.abs(dx) > 60 && Math.abs(dx) > Math.abs(dy)) step(dx < 0 ? 1 : -1);
  });
  lightbox.querySelector(".lightbox-stage").addEventListener("pointercancel", () => { swipe = null; });
  // A mouse "swipe" must not start a native drag (which cancels the pointer).
  lightbox.querySelector(".lightbox-stage").addEventListener("dragstart", (event) => event.preventDefault());

  details.addEventListener("submit", async (event) => {
    const edit = event.target.closest(".details-edit");
    if (!edit) return;
    event.preventDefault();
    const tags = edit.tags.value.split(",").map((t) => t.trim()).filter(Boolean);
    const bar = details.querySelector("[data-image-actions]");
    const result = await request("PATCH", bar.dataset.imageUrl,
                                 {title: edit.title.value, notes: edit.notes.value, tags: tags});
    if (result.ok) {
      toast("Saved", {kind: "success", expire: 3000});
      loadDetails(currentId);
    } else {
      toast(errorText(result.data), {kind: "error"});
    }
  });

  function focusables() {
    return Array.from(lightbox.querySelectorAll(
      'button:not([disabled]), a[href], input, select, textarea, summary, [tabindex="0"]'))
      .filter((el) => el.offsetParent !== null && !el.closest("[hidden]"));
  }

  document.addEventListener("keydown", (event) => {
    if (lightbox.hidden) {
      if (event.key === "Escape" && filtersPanel && !filtersPanel.hidden) {
        setFiltersOpen(false, true);
      } else if (event.key === "Escape" && selecting() && !document.querySelector(".ia-menu:not([hidden])")) {
        setSelecting(false);
        if (selectToggle) selectToggle.focus();
      }
      return;
    }
    if (event.key === "Tab") {  // focus stays in the dialog
      const items = focusables();
      if (!items.length) return;
      const first = items[0];
      const last = items[items.length - 1];
      if (event.shiftKey && (document.activeElement === first || !lightbox.contains(document.activeElement))) {
        event.preventDefault(); last.focus();
      } else if (!event.shiftKey && (document.activeElement === last || !lightbox.contains(document.activeElement))) {
        event.preventDefault(); first.focus();
      }
      return;
    }
    if (event.key === "Escape") { event.preventDefault(); close(); return; }
    const typing = event.target.closest("input, textarea, select");
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    if (document.body.dataset.shortcuts === "off") return;  // the user's preference
    const actions = window.ImagegenImageActions;
    if (event.key === "ArrowRight") { event.preventDefault(); step(1); }
    else if (event.key === "ArrowLeft") { event.preventDefault(); step(-1); }
    else if (!actions || !details.querySelector("[data-image-actions]")) return;
    else if (event.key === "f" || event.key === "F") { event.preventDefault(); actions.favorite(currentId); }
    else if (/^[0-5]$/.test(event.key)) { event.preventDefault(); actions.rate(currentId, Number(event.key)); }
    else if (event.key === "Delete") { event.preventDefault(); actions.remove(currentId); }
  });

  /* ---- links to an image: lineage, toasts, the gallery's #image-<id> anchor ---- */

  function openImage(id, from) {
    if (lightbox.hidden) { open(id, from); return; }
    show(id, true);
    history.replaceState(Object.assign({}, history.state, {lightbox: id}), "");
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-open-image]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    const toastItem = link.closest(".toast");
    if (toastItem) toastItem.remove();
    openImage(Number(link.dataset.openImage));
  });

  function openFromHash() {
    const match = /^#image-(\d+)$/.exec(location.hash);
    if (!match) return;
    history.replaceState(history.state, "", location.pathname + location.search);
    openImage(Number(match[1]));
  }
  window.addEventListener("hashchange", openFromHash);

  // A run from an action bar made a new image: the grid shows it, and the open details of
  // the image it came from list it under "Used in" (unless the user is typing there).
  document.addEventListener("imagegen:image-made", (event) => {
    refreshTop();
    const from = event.detail && event.detail.from;
    const typing = document.activeElement && details.contains(document.activeElement) &&
      document.activeElement.closest("input, textarea, select");
    if (!lightbox.hidden && from === currentId && !typing) loadDetails(currentId);
  });

  /* ---- what the action bars changed ---- */

  document.addEventListener("imagegen:image-changed", (event) => {
    const d = event.detail;
    const tile = tileFor(d.id);
    const panel = details.querySelector('.details[data-id="' + d.id + '"]');
    if (d.favorite !== undefined) {
      if (tile) tile.classList.toggle("is-favorite", d.favorite);
      if (panel) {
        panel.dataset.favorite = String(d.favorite);
        panel.querySelector(".details-favorite").textContent = d.favorite ? "Yes" : "No";
      }
    }
    if (d.rating !== undefined) {
      if (tile) {
        tile.dataset.rating = String(d.rating);
        tile.querySelector(".tile-rating").textContent = d.rating ? d.rating + "/5" : "";
      }
      if (panel) {
        panel.dataset.rating = String(d.rating);
        panel.querySelector(".details-rating").textContent = d.rating ? d.rating + "/5" : "Unrated";
      }
    }
    if (d.project !== undefined && panel) {
      const cell = panel.querySelector(".details-project");
      cell.textContent = "";
      if (d.project) {
        const link = document.createElement("a");
        link.href = urlFor(cell.dataset.projectUrl, d.project);
        link.textContent = d.projectName;
        cell.appendChild(link);
      } else {
        cell.textContent = "—";
      }
    }
  });

  document.addEventListener("imagegen:image-deleted", (event) => {
    const id = event.detail.id;
    const all = tiles();
    const index = all.findIndex((t) => Number(t.dataset.id) === id);
    const neighbour = all[index + 1] || all[index - 1];
    selected.delete(id);
    if (currentId === id) {
      if (neighbour && index >= 0) {
        // image_actions.js removes the tile after this listener.
        setTimeout(() => { show(Number(neighbour.dataset.id)); updateBulkBar(); }, 0);
      } else {
        close();
      }
    } else if (neighbour && document.activeElement && tileFor(id) && tileFor(id).contains(document.activeElement)) {
      setTimeout(() => neighbour.querySelector(".tile-open").focus(), 0);
    }
    const count = document.getElementById("result-count");
    const n = /^([\d,]+) image/.exec(count ? count.textContent : "");
    if (n) {
      const left = Number(n[1].replace(/,/g, "")) - 1;
      count.textContent = left.toLocaleString("en-US") + " image" + (left === 1 ? "" : "s");
    }
  });

  /* ---- uploads: the Upload button, or files dropped on the page ---- */

  const uploader = document.getElementById("gallery-upload");
  const uploadInput = document.getElementById("upload-input");
  const uploadsPanel = document.getElementById("uploads");
  const uploadsList = document.getElementById("uploads-list");
  const uploadsTitle = document.getElementById("uploads-title");
  const dropOverlay = document.getElementById("drop-overlay");
  const UPLOAD_TYPES = ["image/png", "image/jpeg", "image/webp"];
  const PARALLEL = 2;  // files in flight at once
  let batch = null;  // {total, done, failed, made: []}

  // One file in one request: its own progress and its own error (a request is all or nothing).
  function sendFile(file, onProgress) {
    const body = new FormData();
    body.append("file", file, file.name);
    if (uploader.dataset.project) body.append("project", uploader.dataset.project);
    return window.ImagegenApi.upload(uploader.dataset.uploadUrl, body, onProgress);
  }

  // The server's words for a refused file, without the file name the row already shows.
  function uploadError(file, result) {
    const data = result.data || {};
    if (result.status === 413) return "The file is too large.";
    const messages = Array.isArray(data.file) ? data.file : null;
    const text = messages ? messages.join(" ")
      : errorText(data, "The upload failed (" + result.status + ").");
    const prefix = file.name + ": ";
    const own = text.startsWith(prefix) ? text.slice(prefix.length) : text;
    return own.charAt(0).toUpperCase() + own.slice(1);
  }

  function uploadRow(file) {
    const row = document.createElement("li");
    row.className = "upload-row";
    const name = document.createElement("span");
    name.className = "upload-name";
    name.textContent = file.name || "image";
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", "Uploading " + (file.name || "image"));
    const state = document.createElement("span");
    state.className = "upload-state muted small";
    state.textContent = "Waiting";
    row.append(name, bar, state);
    uploadsList.appendChild(row);
    return {row: row, bar: bar, state: state};
  }

  function updateUploadTitle() {
    if (!batch) return;
    const left = batch.total - batch.done;
    if (left) {
      uploadsTitle.textContent = "Uploading " + plural(left, "image") + "…";
    } else {
      uploadsTitle.textContent = plural(batch.made.length, "image") + " uploaded" +
        (batch.failed ? ", " + plural(batch.failed, "file") + " refused" : "");
    }
  }

  async function uploadOne(file, parts) {
    parts.state.textContent = "Uploading";
    const result = await sendFile(file, (share) => { parts.bar.value = Math.round(share * 100); });
    batch.done += 1;
    if (result.ok) {
      const made = (result.data && result.data.images) || [];
      made.forEach((image) => batch.made.push(image.id));
      parts.bar.value = 100;
      parts.row.classList.add("is-done");
      parts.state.textContent = "Done";
      refreshTop();
    } else {
      batch.failed += 1;
      parts.row.classList.add("is-failed");
      parts.bar.remove();
      parts.state.className = "upload-state upload-error";
      parts.state.textContent = uploadError(file, result);
    }
    updateUploadTitle();
  }

  async function upload(files) {
    files = Array.from(files || []);
    if (!files.length) return;
    if (!batch || batch.done === batch.total) {
      batch = {total: 0, done: 0, failed: 0, made: []};
      uploadsList.textContent = "";
    }
    uploadsPanel.hidden = false;
    const queue = files.map((file) => {
      batch.total += 1;
      return {file: file, parts: uploadRow(file)};
    });
    const mine = batch;
    updateUploadTitle();
    async function worker() {
      while (queue.length) {
        const next = queue.shift();
        await uploadOne(next.file, next.parts);
      }
    }
    await Promise.all(Array.from({length: Math.min(PARALLEL, queue.length)}, worker));
    if (mine !== batch || batch.done !== batch.total) return;  // more files joined meanwhile
    const made = batch.made;
    if (made.length) {
      const item = toast(plural(made.length, "image") + " uploaded" +
                         (batch.failed ? "; " + plural(batch.failed, "file") + " refused (see the list)" : "") + ".",
                         {kind: batch.failed ? "warning" : "success", expire: 8000});
      if (item) {
        const link = document.createElement("a");
        link.className = "toast-link";
        link.href = "#image-" + made[0];
        link.dataset.openImage = String(made[0]);
        link.textContent = made.length === 1 ? "Open it" : "Open the first";
        item.querySelector(".toast-text").after(link);
      }
    } else {
      toast("Nothing was uploaded: " + plural(batch.failed, "file") + " refused (see the list).",
            {kind: "error"});
    }
    if (!batch.failed) {
      setTimeout(() => { if (batch === mine) uploadsPanel.hidden = true; }, 4000);
    }
  }

  if (uploader && uploadInput) {
    document.getElementById("upload-button").addEventListener("click", () => uploadInput.click());
    uploadInput.addEventListener("change", () => {
      upload(uploadInput.files);
      uploadInput.value = "";  // choosing the same file again uploads it again
    });
    document.getElementById("uploads-close").addEventListener("click", () => {
      uploadsPanel.hidden = true;
      document.getElementById("upload-button").focus();
    });

    // Files dragged in from outside (not a tile dragged onto a project): the whole page is
    // the drop target while they hover.
    const carriesFiles = (event) => event.dataTransfer &&
      Array.from(event.dataTransfer.types || []).includes("Files");
    let depth = 0;
    document.addEventListener("dragenter", (event) => {
      if (!carriesFiles(event) || !lightbox.hidden) return;
      depth += 1;
      dropOverlay.hidden = false;
    });
    document.addEventListener("dragover", (event) => {
      if (!carriesFiles(event) || !lightbox.hidden) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
    });
    document.addEventListener("dragleave", (event) => {
      if (!carriesFiles(event)) return;
      depth = Math.max(0, depth - 1);
      if (!depth) dropOverlay.hidden = true;
    });
    document.addEventListener("drop", (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      depth = 0;
      dropOverlay.hidden = true;
      if (!lightbox.hidden) return;
      const files = Array.from(event.dataTransfer.files || []);
      const images = files.filter((file) => !file.type || UPLOAD_TYPES.includes(file.type) ||
                                            file.type.startsWith("image/"));
      if (images.length < files.length) {
        toast(plural(files.length - images.length, "file") + " skipped: not an image.",
              {kind: "warning", expire: 6000});
      }
      upload(images);
    });
  }

  /* ---- new images appear at the top (live.js: imagegen:image, imagegen:resync) ---- */

  let refreshTimer = null;
  function refreshTop() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(prependNew, 250);  // one request for a burst of images
  }

  async function prependNew() {
    if ((grid.dataset.sort || "newest") !== "newest") return;
    let html;
    try {
      const response = await fetch(gridUrl(grid.dataset.query || ""),
                                   {credentials: "same-origin", headers: {"HX-Request": "true"}});
      if (!response.ok) return;
      html = await response.text();
    } catch (error) { return; }
    // What the grid shows now, after the wait: two refreshes in flight (a resync and an
    // image event, or two uploads) must not both add the same tile.
    const shown = new Set(tiles().map((t) => t.dataset.id));
    const newest = Math.max(0, ...tiles().map((t) => Number(t.dataset.id)));
    const fragment = document.createElement("template");
    fragment.innerHTML = html;
    const fresh = Array.from(fragment.content.querySelectorAll(".tile[data-id]"))
      .filter((t) => !shown.has(t.dataset.id) && Number(t.dataset.id) > newest);
    if (!fresh.length) return;
    const empty = grid.querySelector(".grid-message");
    if (empty) empty.remove();
    // Oldest of them first, each inserted at the top of its day (a header when it is new).
    fresh.reverse().forEach((tile) => {
      tile.removeAttribute("hx-get"); tile.removeAttribute("hx-trigger"); tile.removeAttribute("hx-swap");
      const header = grid.querySelector('.day-header[data-day="' + tile.dataset.day + '"]');
      if (header) {
        header.after(tile);
      } else {
        const source = fragment.content.querySelector('.day-header[data-day="' + tile.dataset.day + '"]');
        const end = document.createElement("li");
        end.className = "row-end"; end.setAttribute("aria-hidden", "true");
        if (grid.firstElementChild) grid.prepend(end);
        if (source) { grid.prepend(source.cloneNode(true)); grid.querySelector(".day-header").after(tile); }
        else grid.prepend(tile);
      }
      tile.classList.add("is-new");
      if (window.htmx) window.htmx.process(tile);
    });
    const summary = fragment.content.querySelector("#result-count");
    const count = document.getElementById("result-count");
    if (summary && count) count.textContent = summary.textContent;
    updateBulkBar();
  }

  document.addEventListener("imagegen:image", refreshTop);
  document.addEventListener("imagegen:resync", refreshTop);

  // Tiles that htmx adds (endless scroll, new filters) keep the selection mode and selection.
  document.body.addEventListener("htmx:afterSwap", updateBulkBar);
  updateBulkBar();
  openFromHash();
})();

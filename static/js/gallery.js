/* Gallery behaviour: selection and bulk actions, drag-and-drop onto projects, and the
   lightbox with keyboard navigation. The server renders everything; this only calls the
   gallery's JSON API (through ImagegenApi, api.js) and asks htmx to reload the grid
   afterwards. The URLs are data- attributes of #grid (gallery/_browser.html). */
(function () {
  "use strict";

  const grid = document.getElementById("grid");
  if (!grid) return;
  const bulkBar = document.getElementById("bulk-bar");
  const bulkCount = document.getElementById("bulk-count");
  const bulkMessage = document.getElementById("bulk-message");
  const lightbox = document.getElementById("lightbox");
  const lightboxImage = document.getElementById("lightbox-image");
  const details = document.getElementById("lightbox-details");
  const selected = new Set();
  let currentId = null;
  const {request, errorText, urlFor} = window.ImagegenApi;
  // From #grid's data- attributes: bulkUrl and downloadUrl, and per image (rendered with the
  // placeholder id 0, see api.js) imageUrl, favoriteUrl, panelUrl and fileUrl.
  const urls = grid.dataset;

  function describeError(result) {
    return errorText(result.data, "Error " + result.status);
  }

  function tiles() {
    return Array.from(grid.querySelectorAll(".tile[data-id]"));
  }

  function tileFor(id) {
    return grid.querySelector('.tile[data-id="' + id + '"]');
  }

  function reloadGrid() {
    const form = document.getElementById("gallery-filters");
    selected.clear();
    updateBulkBar();
    const url = form ? form.action + "?" + new URLSearchParams(new FormData(form)).toString()
                     : grid.dataset.source;
    if (window.htmx) {
      return window.htmx.ajax("GET", url, {target: "#grid", swap: "innerHTML"});
    }
    window.location.reload();
  }

  /* ---- selection and bulk actions ---- */

  function updateBulkBar() {
    if (!bulkBar) return;
    bulkBar.hidden = selected.size === 0;
    bulkCount.textContent = String(selected.size);
    grid.querySelectorAll(".tile-select").forEach(box => {
      box.checked = selected.has(Number(box.value));
      box.closest(".tile").classList.toggle("is-selected", box.checked);
    });
  }

  grid.addEventListener("change", event => {
    const box = event.target.closest(".tile-select");
    if (!box) return;
    const id = Number(box.value);
    if (box.checked) selected.add(id); else selected.delete(id);
    updateBulkBar();
  });

  async function runBulk(action, ids, extra) {
    const body = Object.assign({ids: ids, action: action}, extra || {});
    const result = await request("POST", urls.bulkUrl, body);
    if (bulkMessage) bulkMessage.textContent = result.ok
      ? result.data.count + " image(s): " + action.replace("_", " ") + " done."
      : describeError(result);
    if (result.ok) await reloadGrid();
    return result;
  }

  async function downloadZip(ids) {
    const result = await request("POST", urls.downloadUrl, {ids: ids});
    if (!result.ok) {
      if (bulkMessage) {
        bulkMessage.textContent = "The ZIP download failed (" + result.status + ").";
      }
      return;
    }
    const blob = await result.response.blob();
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = "images.zip";
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }

  if (bulkBar) {
    bulkBar.addEventListener("click", async event => {
      const button = event.target.closest("button[data-bulk]");
      if (!button) return;
      const action = button.dataset.bulk;
      const ids = Array.from(selected);
      if (action === "clear") { selected.clear(); updateBulkBar(); return; }
      if (!ids.length) return;
      if (action === "download") return downloadZip(ids);
      if (action === "delete" && !window.confirm("Delete " + ids.length + " image(s)?")) return;
      const extra = {};
      if (action === "move") {
        const value = document.getElementById("bulk-project").value;
        extra.project = value ? Number(value) : null;
      }
      if (action === "add_tag" || action === "remove_tag") {
        extra.tag = document.getElementById("bulk-tag").value;
      }
      await runBulk(action, ids, extra);
    });
    document.getElementById("bulk-rating").addEventListener("change", async event => {
      if (event.target.value === "" || !selected.size) return;
      await runBulk("set_rating", Array.from(selected), {rating: Number(event.target.value)});
      event.target.value = "";
    });
  }

  /* ---- drag and drop onto a project ---- */

  grid.addEventListener("dragstart", event => {
    const tile = event.target.closest(".tile[data-id]");
    if (!tile) return;
    const id = Number(tile.dataset.id);
    const ids = selected.has(id) ? Array.from(selected) : [id];
    event.dataTransfer.setData("application/x-image-ids", JSON.stringify(ids));
    event.dataTransfer.setData("text/plain", ids.join(","));
    event.dataTransfer.effectAllowed = "move";
  });

  document.querySelectorAll(".project-drop").forEach(target => {
    target.addEventListener("dragover", event => {
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      target.classList.add("is-over");
    });
    target.addEventListener("dragleave", () => target.classList.remove("is-over"));
    target.addEventListener("drop", async event => {
      event.preventDefault();
      target.classList.remove("is-over");
      let ids = [];
      try {
        ids = JSON.parse(event.dataTransfer.getData("application/x-image-ids") || "[]");
      } catch (e) {
        ids = event.dataTransfer.getData("text/plain").split(",").map(Number).filter(Boolean);
      }
      if (!ids.length) return;
      const project = target.dataset.project ? Number(target.dataset.project) : null;
      const result = await runBulk("move", ids, {project: project});
      if (result.ok && bulkMessage) {
        bulkMessage.textContent = ids.length + " image(s) moved to " + target.textContent + ".";
      }
    });
  });

  /* ---- lightbox ---- */

  async function loadDetails(id) {
    const response = await fetch(urlFor(urls.panelUrl, id), {credentials: "same-origin"});
    if (id !== currentId) return;  // the user moved on meanwhile
    details.innerHTML = response.ok ? await response.text()
                                    : '<p class="error">Could not load the details.</p>';
  }

  function open(id) {
    currentId = id;
    lightboxImage.src = urlFor(urls.fileUrl, id);
    const tile = tileFor(id);
    const thumb = tile && tile.querySelector("img");
    lightboxImage.alt = thumb ? thumb.alt : "";
    lightbox.hidden = false;
    lightbox.dataset.id = String(id);
    document.body.classList.add("has-lightbox");
    loadDetails(id);
  }

  function close() {
    lightbox.hidden = true;
    currentId = null;
    lightboxImage.removeAttribute("src");
    details.innerHTML = "";
    document.body.classList.remove("has-lightbox");
  }

  function step(delta) {
    const all = tiles();
    const index = all.findIndex(t => Number(t.dataset.id) === currentId);
    const next = all[index + delta];
    if (next) {
      open(Number(next.dataset.id));
      next.scrollIntoView({block: "nearest"});  // reveals the endless-scroll trigger
    }
  }

  function showState(favorite, rating) {
    const panel = details.querySelector(".details");
    const tile = tileFor(currentId);
    if (favorite !== undefined) {
      if (panel) {
        panel.dataset.favorite = String(favorite);
        panel.querySelector(".details-favorite").textContent =
          favorite ? "★ Favorite" : "☆ Not a favorite";
      }
      if (tile) tile.classList.toggle("is-favorite", favorite);
    }
    if (rating !== undefined) {
      if (panel) {
        panel.dataset.rating = String(rating);
        panel.querySelector(".details-rating").textContent = rating ? rating + "/5" : "Unrated";
      }
      if (tile) {
        tile.dataset.rating = String(rating);
        tile.querySelector(".tile-rating").textContent = rating ? rating + "/5" : "";
      }
    }
  }

  function flash(text) {
    const message = details.querySelector(".details-message") || details;
    if (message === details) {
      const p = document.createElement("p");
      p.className = "error";
      p.textContent = text;
      details.prepend(p);
    } else {
      message.textContent = text;
    }
  }

  async function toggleFavorite() {
    const result = await request("POST", urlFor(urls.favoriteUrl, currentId));
    if (result.ok) showState(result.data.favorite); else flash(describeError(result));
  }

  async function rate(value) {
    const result = await request("PATCH", urlFor(urls.imageUrl, currentId), {rating: value});
    if (result.ok) showState(undefined, result.data.rating); else flash(describeError(result));
  }

  async function remove() {
    if (!window.confirm("Delete this image?")) return;
    const id = currentId;
    const result = await request("DELETE", urlFor(urls.imageUrl, id));
    if (!result.ok) { flash(describeError(result)); return; }
    const all = tiles();
    const index = all.findIndex(t => Number(t.dataset.id) === id);
    const neighbour = all[index + 1] || all[index - 1];
    all[index] && all[index].remove();
    selected.delete(id);
    updateBulkBar();
    if (neighbour) open(Number(neighbour.dataset.id)); else close();
  }

  grid.addEventListener("click", event => {
    const opener = event.target.closest("[data-open]");
    if (opener) open(Number(opener.dataset.open));
  });
  lightbox.querySelector(".lightbox-close").addEventListener("click", close);
  lightbox.querySelectorAll(".lightbox-nav").forEach(button =>
    button.addEventListener("click", () => step(Number(button.dataset.step))));

  details.addEventListener("submit", async event => {
    const form = event.target.closest(".details-edit");
    if (!form) return;
    event.preventDefault();
    const tags = form.tags.value.split(",").map(t => t.trim()).filter(Boolean);
    const result = await request("PATCH", urlFor(urls.imageUrl, form.dataset.id),
                                 {title: form.title.value, notes: form.notes.value, tags: tags});
    form.querySelector(".details-message").textContent = result.ok ? "Saved."
                                                                   : describeError(result);
  });

  document.addEventListener("keydown", event => {
    if (lightbox.hidden) return;
    const typing = event.target.closest("input, textarea, select");
    if (event.key === "Escape") { event.preventDefault(); close(); return; }
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    if (document.body.dataset.shortcuts === "off") return;  // the user's preference
    if (event.key === "ArrowRight") { event.preventDefault(); step(1); }
    else if (event.key === "ArrowLeft") { event.preventDefault(); step(-1); }
    else if (event.key === "f" || event.key === "F") { event.preventDefault(); toggleFavorite(); }
    else if (/^[1-5]$/.test(event.key)) { event.preventDefault(); rate(Number(event.key)); }
    else if (event.key === "Delete") { event.preventDefault(); remove(); }
  });

  // Tiles that htmx adds (endless scroll, new filters) keep the current selection.
  document.body.addEventListener("htmx:afterSwap", updateBulkBar);
})();

/* The Generate page's image inputs (issue #16): the operation selector, the input tray and
 * the fields each operation takes.
 *
 * - The selector offers the operations the chosen model does (its info panel's
 *   data-operations); the form shows only the chosen operation's parts (data-section, the
 *   same rules as generation.page.sections) and disables the fields of the others, so they
 *   are not sent.
 * - The tray holds the input images as hidden `input_images` fields, in order: up to the
 *   model's maximum for Edit (the first is the image to edit, the rest references), one for
 *   the other operations (extra ones stay, marked unused, until the operation takes them).
 *   Reorder by dragging or with the move buttons; add from the gallery (a picker dialog with
 *   search), by uploading, pasting (Ctrl/Cmd+V anywhere on the page) or dropping files, or by
 *   dropping a gallery image dragged from another tab (its ids or its image URL).
 *   Files go to the upload API first (ImagegenApi.upload, which reports progress), with a
 *   progress bar each and the server's per-file refusals said in words.
 * - Inpaint: the mask editor (mask_editor.js) paints over the first input; generate.js calls
 *   window.ImagegenInputs.prepare(formData) before it submits, which adds the mask as a PNG
 *   file part `mask`.
 * URLs come from data- attributes (placeholder id 0, ImagegenApi.urlFor). */
(function () {
  "use strict";

  const $ = (selector, root) => (root || document).querySelector(selector);
  const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));
  const api = () => window.ImagegenApi;
  const editor = () => window.ImagegenMaskEditor;
  const toast = (text, opts) => window.ImagegenUI && window.ImagegenUI.toast(text, opts);

  const form = () => $("#generate-form");
  const tray = () => $("#input-tray");
  const list = () => $("#tray-list");
  const info = () => $("#model-info .model-info");

  const IMAGE_TYPES = ["image/png", "image/jpeg", "image/webp"];
  const PROMPTLESS = ["upscale", "remove_background"];
  const EDITS = ["edit", "inpaint", "outpaint"];

  function debounce(fn, ms) {
    let timer = null;
    return function () {
      const args = arguments;
      clearTimeout(timer);
      timer = setTimeout(() => fn.apply(null, args), ms);
    };
  }

  /* ---- the model and the operation ---------------------------------------------------- */

  function modelOperations() {
    const panel = info();
    return panel ? (panel.dataset.operations || "generate").split(/\s+/).filter(Boolean) : ["generate"];
  }

  function modelLabel() {
    const panel = info();
    return (panel && panel.dataset.label) || "This model";
  }

  function operation() {
    const checked = $('input[name="operation"]:checked', form());
    return checked ? checked.value : "generate";
  }

  function operationLabel(op) {
    const segment = $(`.segment[data-operation="${op}"] span`, form());
    return segment ? segment.textContent.trim() : op;
  }

  function maxInputs(op) {
    if (op === "generate" || !modelOperations().includes(op)) return 0;
    if (op === "edit") return Math.max(1, Number(info() && info().dataset.maxInputs) || 1);
    return 1;
  }

  // generation.page.sections, in the browser.
  function sections(op) {
    const panel = info();
    const takesPrompt = !panel || panel.dataset.takesPrompt !== "false";
    return {
      tray: op !== "generate",
      mask: op === "inpaint",
      prompt: !PROMPTLESS.includes(op) && takesPrompt,
      strength: EDITS.includes(op) && Boolean(panel && panel.dataset.strength),
      scale: op === "upscale",
      outpaint: op === "outpaint",
      size: op === "generate",
      "size-note": op !== "generate",
      count: !PROMPTLESS.includes(op),
    };
  }

  function setOperation(op) {
    const radio = $(`input[name="operation"][value="${op}"]`, form());
    if (!radio || radio.disabled) return false;
    radio.checked = true;
    applyOperation();
    return true;
  }

  function applyOperation() {
    const theForm = form();
    if (!theForm) return;
    const op = operation();
    theForm.dataset.operation = op;
    const shown = sections(op);
    $$("[data-section]", theForm).forEach((part) => {
      const on = Boolean(shown[part.dataset.section]);
      part.hidden = !on;
      if (part.dataset.section === "tray") return; // markTray decides for its inputs
      $$("input, select, textarea", part).forEach((field) => {
        if (field.closest("[data-outpaint]")) return; // applyOutpaintMode decides
        field.disabled = !on;
      });
    });
    const button = $("#generate-button");
    if (button) button.textContent = operationLabel(op);
    const promptBox = $("#id_prompt");
    if (promptBox) promptBox.required = op !== "outpaint"; // outpaint: what to paint in, if anything
    const optional = $("[data-prompt-optional]", theForm);
    if (optional) optional.hidden = op !== "outpaint";
    applyOutpaintMode();
    markTray();
    updateMask();
    refreshPrice();
  }

  // The model changed (its info panel was swapped in): offer its operations only.
  function applyModel(announce) {
    const theForm = form();
    const offered = modelOperations();
    $$('.segment[data-operation]', theForm).forEach((segment) => {
      const on = offered.includes(segment.dataset.operation);
      segment.hidden = !on;
      $("input", segment).disabled = !on;
    });
    // A model that only generates has nothing to choose; a single other operation is shown.
    $("#operation-picker").hidden = offered.length === 1 && offered[0] === "generate";
    const op = operation();
    if (!offered.includes(op)) {
      const next = offered.includes("generate") ? "generate" : offered[0];
      setOperation(next);
      if (announce && op !== next) {
        toast(`${modelLabel()} does not do ${operationLabel(op).toLowerCase()}; switched to ${operationLabel(next)}.`, {kind: "info"});
      }
    }
    applyStrength();
    applyScales();
    applyOperation();
  }

  function applyStrength() {
    const input = $("#id_strength");
    const panel = info();
    if (!input || !panel) return;
    const range = panel.dataset.strength;
    if (!range) { input.value = ""; return; }
    const [low, high] = range.split(",").map(Number);
    input.min = String(low);
    input.max = String(high);
    const words = $("[data-strength-range]");
    if (words) words.textContent = `${low} to ${high}`;
    const value = Number(input.value);
    if (input.value !== "" && (value < low || value > high)) input.value = "";
  }

  function applyScales() {
    const box = $("#scale-options");
    const panel = info();
    if (!box || !panel) return;
    const scales = (panel.dataset.scales || "").split(/\s+/).filter(Boolean);
    const now = $$('input[name="scale"]', box).map((input) => input.value);
    if (scales.join(" ") === now.join(" ")) return;
    const chosen = ($('input[name="scale"]:checked', box) || {}).value;
    box.textContent = "";
    scales.forEach((factor, index) => {
      const label = document.createElement("label");
      label.className = "segment";
      const input = document.createElement("input");
      input.type = "radio";
      input.name = "scale";
      input.value = factor;
      input.checked = chosen ? factor === chosen : index === 0;
      const text = document.createElement("span");
      text.textContent = factor + "×";
      label.append(input, text);
      box.append(label);
    });
    if (!$('input[name="scale"]:checked', box) && $('input[name="scale"]', box)) {
      $('input[name="scale"]', box).checked = true;
    }
  }

  /* ---- outpaint ----------------------------------------------------------------------------- */

  function applyOutpaintMode() {
    const field = $("#outpaint-field");
    if (!field) return;
    const on = !field.hidden;
    const mode = ($('input[name="outpaint_mode"]:checked', field) || {}).value || "ratio";
    $$("[data-outpaint]", field).forEach((part) => {
      const shown = part.dataset.outpaint === mode;
      part.hidden = !shown;
      $$("input", part).forEach((input) => { input.disabled = !on || !shown; });
    });
    outpaintResult();
  }

  // generation's margins_for_ratio, for the sentence under the fields.
  function marginsForRatio(width, height, ratioW, ratioH) {
    if (width * ratioH < height * ratioW) {
      const extra = Math.ceil(height * ratioW / ratioH) - width;
      return {left: Math.floor(extra / 2), right: extra - Math.floor(extra / 2), top: 0, bottom: 0};
    }
    const extra = Math.ceil(width * ratioH / ratioW) - height;
    return {left: 0, right: 0, top: Math.floor(extra / 2), bottom: extra - Math.floor(extra / 2)};
  }

  function outpaintResult() {
    const out = $("#outpaint-result");
    const field = $("#outpaint-field");
    if (!out || !field || field.hidden) return;
    const first = usedItems()[0];
    if (!first) { out.textContent = "Add the image to extend."; return; }
    const width = Number(first.dataset.width);
    const height = Number(first.dataset.height);
    const mode = ($('input[name="outpaint_mode"]:checked', field) || {}).value || "ratio";
    let margins;
    if (mode === "ratio") {
      const ratio = ($('input[name="outpaint_ratio"]:checked', field) || {}).value || "";
      const match = /^(\d+):(\d+)$/.exec(ratio);
      if (!match) { out.textContent = ""; return; }
      margins = marginsForRatio(width, height, Number(match[1]), Number(match[2]));
    } else {
      margins = {};
      ["left", "top", "right", "bottom"].forEach((side) => {
        margins[side] = Math.max(0, Number(($(`[name="outpaint_${side}"]`, field) || {}).value) || 0);
      });
    }
    const newWidth = width + margins.left + margins.right;
    const newHeight = height + margins.top + margins.bottom;
    const added = ["left", "top", "right", "bottom"].filter((side) => margins[side])
      .map((side) => `${margins[side]} px ${side}`);
    out.textContent = added.length
      ? `${width}×${height} becomes ${newWidth}×${newHeight} (${added.join(", ")}).`
      : `The image already is ${width}×${height} in that shape: choose another ratio or add margins.`;
  }

  /* ---- the tray ------------------------------------------------------------------------------- */

  const items = () => $$(".tray-item[data-id]", list());
  const usedItems = () => items().filter((item) => !item.classList.contains("is-unused"));

  function say(words) {
    const live = $("#tray-live");
    if (live) live.textContent = words;
  }

  function markTray() {
    if (!tray()) return;
    const op = operation();
    const max = maxInputs(op);
    const all = items();
    tray().dataset.max = String(max);
    all.forEach((item, index) => {
      const used = index < max;
      const id = item.dataset.id;
      item.classList.toggle("is-unused", !used);
      $('input[name="input_images"]', item).disabled = !used;
      let role = "Not used";
      if (used) role = index === 0 ? (op === "edit" && all.length > 1 ? "To edit" : "Input") : "Reference";
      $("[data-role]", item).textContent = role;
      $("[data-name]", item).textContent = "#" + id;
      $("img", item).alt = `Input ${index + 1}: image #${id}${used ? "" : ", not used by " + operationLabel(op)}`;
      $('[data-tray-move="-1"]', item).disabled = index === 0;
      $('[data-tray-move="1"]', item).disabled = index === all.length - 1;
    });
    const count = $("#tray-count");
    if (count) {
      if (!max) count.textContent = "";
      else if (all.length > max) count.textContent = `${operationLabel(op)} uses the first ${max === 1 ? "image" : max}`;
      else count.textContent = `${all.length} of ${max}`;
    }
    updateMask();
    outpaintResult();
  }

  function itemFor(image) {
    const template = $("#tray-item-template");
    const item = template.content.firstElementChild.cloneNode(true);
    const id = String(image.id);
    item.dataset.id = id;
    item.dataset.width = String(image.width);
    item.dataset.height = String(image.height);
    const picture = $("img", item);
    picture.src = image.thumbnail || api().urlFor(tray().dataset.thumbnailUrl, id);
    picture.width = image.width;
    picture.height = image.height;
    $('input[name="input_images"]', item).value = id;
    $('[data-tray-move="-1"]', item).setAttribute("aria-label", `Move #${id} earlier`);
    $('[data-tray-move="1"]', item).setAttribute("aria-label", `Move #${id} later`);
    $("[data-tray-remove]", item).setAttribute("aria-label", `Remove #${id} from the inputs`);
    return item;
  }

  function trayChanged() {
    markTray();
    // The budget notice follows the form's changes; the price line its own event.
    tray().dispatchEvent(new Event("change", {bubbles: true}));
    refreshPrice();
  }

  // The operation to switch to when images arrive while Generate is chosen.
  function operationForImages() {
    const offered = modelOperations();
    return ["edit", "inpaint", "outpaint", "upscale", "remove_background"].find((op) => offered.includes(op));
  }

  // Room for ``count`` more images, switching from Generate to an operation that takes
  // them; false (with the reason said) when the model takes none.
  function makeRoom() {
    if (operation() !== "generate") return true;
    const next = operationForImages();
    if (!next) {
      toast(`${modelLabel()} takes no input images: choose a model that edits images.`, {kind: "error"});
      return false;
    }
    setOperation(next);
    toast(`Switched to ${operationLabel(next)}.`, {kind: "info"});
    return true;
  }

  // Adds images ({id, width, height, thumbnail}) to the tray; returns how many were added.
  function addImages(images) {
    if (!images.length || !makeRoom()) return 0;
    const max = maxInputs(operation());
    const present = new Set(items().map((item) => item.dataset.id));
    let added = 0;
    const refused = [];
    for (const image of images) {
      const id = String(image.id);
      if (present.has(id)) { refused.push(`#${id} is already there`); continue; }
      if (max === 1 && items().length) {
        // One input: the new image takes the first place (the others stay, unused).
        list().prepend(itemFor(image));
      } else if (items().length >= max) {
        refused.push(`#${id}: ${modelLabel()} takes at most ${max} input images for ${operationLabel(operation()).toLowerCase()}`);
        continue;
      } else {
        list().append(itemFor(image));
      }
      present.add(id);
      added += 1;
    }
    trayChanged();
    if (added) say(`${added === 1 ? "Image" : added + " images"} added to the inputs.`);
    if (refused.length) toast(refused.join("; ") + ".", {kind: "warning"});
    return added;
  }

  function move(item, step) {
    const all = items();
    const index = all.indexOf(item);
    const target = index + step;
    if (index < 0 || target < 0 || target >= all.length) return;
    if (step < 0) list().insertBefore(item, all[target]);
    else list().insertBefore(item, all[target].nextSibling);
    trayChanged();
    say(`#${item.dataset.id} is now ${target + 1} of ${all.length}.`);
  }

  function remove(item) {
    const all = items();
    const index = all.indexOf(item);
    const id = item.dataset.id;
    item.remove();
    trayChanged();
    const rest = items();
    const next = rest[Math.min(index, rest.length - 1)];
    (next ? $("[data-tray-remove]", next) : $("#tray-pick")).focus();
    say(`#${id} removed from the inputs.`);
  }

  /* ---- drag to reorder (pointer devices; the move buttons do it anywhere) ------------- */

  let dragged = null;

  function trayDragStart(event) {
    const item = event.target.closest(".tray-item");
    if (!item) return;
    dragged = item;
    item.classList.add("is-dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("application/x-imagegen-tray", item.dataset.id);
  }

  function trayDragOver(event) {
    if (!dragged) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    const after = items().find((item) => {
      if (item === dragged) return false;
      const box = item.getBoundingClientRect();
      return event.clientY < box.top || (event.clientY < box.bottom && event.clientX < box.left + box.width / 2);
    });
    if (after) list().insertBefore(dragged, after);
    else list().append(dragged);
  }

  function trayDragEnd() {
    if (!dragged) return;
    const item = dragged;
    dragged = null;
    item.classList.remove("is-dragging");
    trayChanged();
    say(`#${item.dataset.id} is now ${items().indexOf(item) + 1} of ${items().length}.`);
  }

  /* ---- uploads --------------------------------------------------------------------------- */

  let uploading = 0;

  function showTrayError(lines) {
    const box = $("#tray-error");
    box.textContent = "";
    if (!lines.length) { box.hidden = true; return; }
    if (lines.length === 1) {
      box.textContent = lines[0];
    } else {
      const intro = document.createElement("p");
      intro.textContent = "The upload was refused:";
      const bullets = document.createElement("ul");
      lines.forEach((line) => {
        const entry = document.createElement("li");
        entry.textContent = line;
        bullets.append(entry);
      });
      box.append(intro, bullets);
    }
    box.hidden = false;
  }

  function uploadRow(files) {
    const row = document.createElement("li");
    row.className = "upload-row";
    const name = document.createElement("span");
    name.className = "upload-name";
    name.textContent = files.length === 1 ? (files[0].name || "pasted image") : `${files.length} files`;
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", "Uploading " + name.textContent);
    const percent = document.createElement("span");
    percent.className = "upload-percent small muted";
    percent.textContent = "0%";
    row.append(name, bar, percent);
    return row;
  }

  async function uploadFiles(fileList) {
    const files = Array.from(fileList || []);
    if (!files.length) return;
    const wrong = files.filter((file) => file.type && !IMAGE_TYPES.includes(file.type));
    const good = files.filter((file) => !wrong.includes(file));
    const problems = wrong.map((file) => `${file.name || "A file"}: not a PNG, JPEG or WebP image.`);
    showTrayError(problems);
    if (problems.length) toast(problems.join(" "), {kind: "error"});
    if (!good.length || !makeRoom()) return;
    const body = new FormData();
    good.forEach((file) => body.append("file", file, file.name || "pasted.png"));
    const project = $("#id_project");
    if (project && project.value) body.append("project", project.value);

    const uploads = $("#upload-list");
    const row = uploadRow(good);
    uploads.append(row);
    uploads.hidden = false;
    uploading += 1;
    const bar = $("progress", row);
    const percent = $(".upload-percent", row);

    const result = await api().upload(tray().dataset.uploadUrl, body, (share) => {
      const done = Math.round(share * 100);
      bar.value = done;
      percent.textContent = done < 100 ? done + "%" : "Checking…";
    });
    uploading -= 1;
    row.remove();
    uploads.hidden = !uploads.children.length;
    const data = result.data;
    if (result.status === 201 && data && data.images) {
      const added = addImages(data.images.map((image) => ({
        id: image.id, width: image.width, height: image.height, thumbnail: image.thumbnail_url,
      })));
      const count = data.images.length;
      toast(`Uploaded ${count === 1 ? "1 image" : count + " images"}${added ? "" : " to the gallery"}.`, {kind: "success"});
      return;
    }
    let lines;
    if (data && Array.isArray(data.file)) lines = data.file;
    else if (result.status === 413) lines = ["The files are too large to upload at once."];
    else if (result.status === 0) lines = ["The server could not be reached; nothing was uploaded."];
    else lines = [api().errorText(data, "The upload failed; try again.")];
    showTrayError(lines);
    toast((result.status === 0 ? "" : "Upload refused: ") + lines.join(" "), {kind: "error"});
  }

  /* ---- images by id (a drop from the gallery, the picker) -------------------------------- */

  // Image ids in a same-origin URL of this studio's image or thumbnail files.
  function idFromUrl(text) {
    let url;
    try { url = new URL(text.trim(), window.location.href); } catch (error) { return null; }
    if (url.origin !== window.location.origin) return null;
    for (const template of [tray().dataset.fileUrl, tray().dataset.thumbnailUrl]) {
      const prefix = template.slice(0, template.lastIndexOf("/0") + 1);
      const rest = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : "";
      if (/^\d+\/?$/.test(rest)) return Number.parseInt(rest, 10);
    }
    return null;
  }

  async function addByIds(ids) {
    ids = Array.from(new Set(ids)).filter((id) => Number.isInteger(id) && id > 0).slice(0, 16);
    if (!ids.length) return;
    const answers = await Promise.all(ids.map((id) => api().request("GET", api().urlFor(tray().dataset.imageUrl, id))));
    const found = [];
    const missing = [];
    answers.forEach((answer, index) => {
      if (answer.ok && answer.data) {
        found.push({id: answer.data.id, width: answer.data.width, height: answer.data.height,
                    thumbnail: answer.data.thumbnail_url});
      } else {
        missing.push("#" + ids[index]);
      }
    });
    if (missing.length) toast(`Not an image you can use: ${missing.join(", ")}.`, {kind: "error"});
    addImages(found);
  }

  /* ---- paste and drop anywhere on the page -------------------------------------------- */

  function imageFiles(transfer) {
    return Array.from((transfer && transfer.files) || []);
  }

  document.addEventListener("paste", (event) => {
    if (!form() || document.querySelector("dialog[open]")) return;
    const files = imageFiles(event.clipboardData).filter((file) => (file.type || "").startsWith("image/"));
    if (!files.length) return; // text pastes as usual
    event.preventDefault();
    uploadFiles(files);
  });

  const DROPPABLE = ["Files", "application/x-image-ids", "text/uri-list"];
  const droppable = (event) => {
    const types = Array.from((event.dataTransfer && event.dataTransfer.types) || []);
    return !dragged && !types.includes("application/x-imagegen-tray") &&
      types.some((type) => DROPPABLE.includes(type));
  };

  function dropEffect(transfer) {
    const allowed = transfer.effectAllowed || "all";
    if (/copy|all|uninitialized/i.test(allowed)) return "copy";
    if (/move/i.test(allowed)) return "move";
    return "link";
  }

  let overlayTimer = null;
  function showOverlay(on) {
    const overlay = $("#drop-overlay");
    if (!overlay) return;
    clearTimeout(overlayTimer);
    // dragleave fires between child elements: hide only when no dragover follows.
    if (on) overlay.hidden = false;
    else overlayTimer = setTimeout(() => { overlay.hidden = true; }, 80);
  }

  document.addEventListener("dragover", (event) => {
    if (!form() || !droppable(event) || document.querySelector("dialog[open]")) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = dropEffect(event.dataTransfer);
    showOverlay(true);
  });
  document.addEventListener("dragleave", () => showOverlay(false));
  document.addEventListener("dragend", () => showOverlay(false));
  document.addEventListener("drop", (event) => {
    if (!form() || !droppable(event) || document.querySelector("dialog[open]")) return;
    event.preventDefault();
    showOverlay(false);
    const transfer = event.dataTransfer;
    const files = imageFiles(transfer);
    if (files.length) { uploadFiles(files); return; }
    let ids = [];
    try {
      ids = JSON.parse(transfer.getData("application/x-image-ids") || "[]").map(Number);
    } catch (error) { ids = []; }
    if (!ids.length) {
      ids = (transfer.getData("text/uri-list") || "").split(/\r?\n/)
        .filter((line) => line && !line.startsWith("#")).map(idFromUrl).filter(Boolean);
    }
    if (!ids.length) {
      toast("Only image files and images from this studio can be added.", {kind: "error"});
      return;
    }
    addByIds(ids);
  });

  /* ---- the gallery picker --------------------------------------------------------------- */

  const picker = () => $("#image-picker");
  const chosen = new Map(); // id -> {id, width, height, thumbnail}
  let nextPage = null;
  let pickerSerial = 0;
  let pickerOpener = null;

  function pickerRoom() {
    const max = maxInputs(operation() === "generate" ? (operationForImages() || "generate") : operation());
    if (max === 1) return 1; // one input: the chosen image replaces it
    return Math.max(0, max - items().length);
  }

  function pickerCount() {
    const room = pickerRoom();
    const count = chosen.size;
    $("#picker-count").textContent = count
      ? (room > 1 ? `${count} of ${room} chosen` : "1 chosen")
      : room > 1 ? `Choose up to ${room}` : "Choose one";
    const add = $("#picker-add");
    add.disabled = !count;
    add.textContent = count > 1 ? `Add ${count} images` : "Add";
  }

  function pickerItem(image, inTray) {
    const entry = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "picker-item";
    button.dataset.id = String(image.id);
    button.setAttribute("aria-pressed", String(chosen.has(String(image.id))));
    const picture = document.createElement("img");
    picture.src = image.thumbnail_url;
    picture.alt = "";
    picture.width = image.width;
    picture.height = image.height;
    picture.loading = "lazy";
    const caption = document.createElement("span");
    caption.className = "picker-caption";
    const words = image.title || image.prompt || (image.origin === "upload" ? "Uploaded image" : "");
    caption.textContent = `#${image.id}${words ? " · " + words : ""}`;
    button.append(picture, caption);
    if (inTray) {
      button.disabled = true;
      const note = document.createElement("span");
      note.className = "picker-note small";
      note.textContent = "In the tray";
      button.append(note);
    }
    button._image = {id: image.id, width: image.width, height: image.height, thumbnail: image.thumbnail_url};
    entry.append(button);
    return entry;
  }

  async function loadPicker(reset) {
    const root = picker();
    const grid = $("#picker-grid");
    const status = $("#picker-status");
    const mine = ++pickerSerial;
    let url;
    if (reset || !nextPage) {
      const params = new URLSearchParams({page_size: "30"});
      const query = $("#picker-q").value.trim();
      const origin = $("#picker-origin").value;
      if (query) params.set("q", query);
      if (origin) params.set("origin", origin);
      url = root.dataset.listUrl + "?" + params.toString();
    } else {
      url = nextPage;
    }
    status.textContent = "Loading…";
    const answer = await api().request("GET", url);
    if (mine !== pickerSerial) return;
    if (!answer.ok || !answer.data) {
      status.textContent = api().errorText(answer.data, "Your images could not be loaded; try again.");
      return;
    }
    if (reset) grid.textContent = "";
    const present = new Set(items().map((item) => item.dataset.id));
    answer.data.results.forEach((image) => grid.append(pickerItem(image, present.has(String(image.id)))));
    nextPage = answer.data.next;
    $("#picker-more").hidden = !nextPage;
    const shown = grid.children.length;
    status.textContent = shown
      ? `${shown}${nextPage ? "+" : ""} image${shown === 1 ? "" : "s"}.`
      : ($("#picker-q").value.trim() ? "No image matches." : "No images yet: upload or generate one first.");
  }

  function openPicker() {
    const root = picker();
    if (!root) return;
    pickerOpener = document.activeElement;
    chosen.clear();
    nextPage = null;
    pickerCount();
    root.showModal();
    $("#picker-q").focus();
    loadPicker(true);
  }

  function closePicker() {
    const root = picker();
    if (root.open) root.close();
  }

  function togglePick(button) {
    const id = button.dataset.id;
    const room = pickerRoom();
    if (chosen.has(id)) {
      chosen.delete(id);
    } else {
      if (room === 1) {
        chosen.clear();
        $$('.picker-item[aria-pressed="true"]', picker()).forEach((other) => other.setAttribute("aria-pressed", "false"));
      } else if (chosen.size >= room) {
        $("#picker-status").textContent = room
          ? `The tray has room for ${room} more: unchoose one first.`
          : "The tray is full: remove an image from it first.";
        return;
      }
      chosen.set(id, button._image);
    }
    button.setAttribute("aria-pressed", String(chosen.has(id)));
    pickerCount();
  }

  function initPicker() {
    const root = picker();
    if (!root) return;
    const search = debounce(() => loadPicker(true), 300);
    $("#picker-q").addEventListener("input", search);
    $("#picker-origin").addEventListener("change", () => loadPicker(true));
    $("#picker-search").addEventListener("submit", (event) => { event.preventDefault(); loadPicker(true); });
    $("#picker-more").addEventListener("click", () => loadPicker(false));
    // The page's shortcuts (Esc cancels a generation, Ctrl+Enter submits) stay out of here.
    root.addEventListener("keydown", (event) => event.stopPropagation());
    root.addEventListener("click", (event) => {
      if (event.target === root) { closePicker(); return; } // the backdrop
      if (event.target.closest("[data-picker-close]")) { closePicker(); return; }
      const item = event.target.closest(".picker-item");
      if (item && !item.disabled) togglePick(item);
    });
    $("#picker-add").addEventListener("click", () => {
      const images = Array.from(chosen.values());
      closePicker();
      addImages(images);
    });
    root.addEventListener("close", () => {
      if (pickerOpener && pickerOpener.isConnected) pickerOpener.focus();
      pickerOpener = null;
    });
  }

  /* ---- the mask ------------------------------------------------------------------------------ */

  let maskedId = null;

  function updateMask() {
    const mask = editor();
    if (!mask || !$("#mask-panel")) return;
    const first = usedItems()[0];
    const open = $("#mask-open");
    if (!first) {
      mask.setImage(null);
      maskedId = null;
      $("#mask-status").textContent = "Add the image to change first.";
      open.disabled = true;
      const preview = $("#mask-preview");
      preview.getContext("2d").clearRect(0, 0, preview.width, preview.height);
      preview.hidden = true;
      return;
    }
    open.disabled = false;
    if (maskedId !== first.dataset.id) {
      maskedId = first.dataset.id;
      mask.setImage({id: first.dataset.id, width: first.dataset.width, height: first.dataset.height,
                     url: api().urlFor(tray().dataset.fileUrl, first.dataset.id)});
    }
    maskChanged();
  }

  function maskChanged() {
    const mask = editor();
    const panel = $("#mask-panel");
    if (!mask || !panel || panel.hidden) return;
    const has = mask.hasMask();
    $("#mask-status").textContent = has
      ? mask.summary().text
      : "No mask yet: paint where the image should change.";
    $("#mask-open").textContent = has ? "Change the mask" : "Paint the mask";
    const preview = $("#mask-preview");
    preview.hidden = false;
    mask.drawPreview(preview);
    if (has) {
      const box = $('.field-error[data-field="mask"]', form());
      if (box) { box.hidden = true; box.textContent = ""; }
    }
  }

  /* ---- the price line -------------------------------------------------------------------- */

  const refreshPrice = debounce(() => {
    const line = $("#price-line");
    if (line && window.htmx) line.dispatchEvent(new CustomEvent("price-refresh"));
  }, 250);

  /* ---- before a submit (generate.js) -------------------------------------------------------- */

  // Adds what the form's fields cannot hold (the mask); returns a reason not to submit yet.
  async function prepare(body) {
    if (uploading) return "An upload is still running: wait for it to finish.";
    body.delete("mask");
    if (operation() === "inpaint" && editor() && editor().hasMask()) {
      const blob = await editor().exportBlob();
      if (blob) body.set("mask", blob, "mask.png");
    }
    return "";
  }

  /* ---- wiring --------------------------------------------------------------------------------- */

  function init() {
    const theForm = form();
    if (!theForm || !tray()) return;
    initPicker();
    if (editor()) editor().onchange = maskChanged;

    theForm.addEventListener("change", (event) => {
      const target = event.target;
      if (target.name === "operation") { applyOperation(); return; }
      if (target.name === "outpaint_mode") { applyOutpaintMode(); refreshPrice(); return; }
      if (target.name === "outpaint_ratio" || target.name === "scale") { outpaintResult(); refreshPrice(); }
    });
    theForm.addEventListener("input", (event) => {
      if (/^outpaint_(left|top|right|bottom)$/.test(event.target.name || "")) {
        outpaintResult();
        refreshPrice();
      }
    });
    tray().addEventListener("click", (event) => {
      const moveButton = event.target.closest("[data-tray-move]");
      if (moveButton) {
        const item = moveButton.closest(".tray-item");
        move(item, Number(moveButton.dataset.trayMove));
        // Focus stays on the moved image's button (or its other one at an end).
        const again = $(`[data-tray-move="${moveButton.dataset.trayMove}"]`, item);
        (again.disabled ? $(`[data-tray-move="${-Number(moveButton.dataset.trayMove)}"]`, item) : again).focus();
        return;
      }
      const removeButton = event.target.closest("[data-tray-remove]");
      if (removeButton) { remove(removeButton.closest(".tray-item")); return; }
      if (event.target.closest("#tray-pick")) { openPicker(); return; }
      if (event.target.closest("#tray-upload")) $("#tray-files").click();
    });
    $("#tray-files").addEventListener("change", (event) => {
      uploadFiles(event.target.files);
      event.target.value = "";
    });
    list().addEventListener("dragstart", trayDragStart);
    list().addEventListener("dragover", trayDragOver);
    list().addEventListener("drop", (event) => { if (dragged) event.preventDefault(); });
    list().addEventListener("dragend", trayDragEnd);
    $("#mask-open").addEventListener("click", () => editor() && editor().open());
    $("#mask-editor").addEventListener("close", maskChanged);

    // A new model (its info panel swapped in by htmx): its operations and ranges.
    document.addEventListener("htmx:afterSwap", (event) => {
      const target = event.detail.target;
      if (target && target.querySelector && target.querySelector(".model-info")) applyModel(true);
    });

    applyModel(false);
    const panel = $("#mask-panel");
    if (panel && panel.dataset.openOnLoad === "true" && usedItems().length && editor()) editor().open();
  }

  window.ImagegenInputs = {prepare: prepare, addByIds: addByIds, operation: operation};

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();

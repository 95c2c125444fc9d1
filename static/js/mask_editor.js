/* The mask editor of the Generate page (issue #16): paint, over the first input image, where
 * an inpaint may change it. The app's one convention: the mask is a PNG at the image's natural
 * resolution, WHITE where it may change and black elsewhere (grey at a soft edge).
 *
 * The mask lives in a canvas of the image's own size (white, its alpha the coverage); the
 * stage canvas shows the image with the mask over it, tinted and half transparent, at any
 * zoom. A stroke is drawn hard-edged into its own canvas and merged into the mask when it
 * ends, blurred by the softness (so overlapping dabs never build up) and added (brush) or
 * cut out (eraser). Pointer events: a mouse, a pen (its pressure thins the stroke) and a
 * finger paint alike; two fingers pinch-zoom and pan; the wheel zooms about the pointer;
 * the middle button or the Pan tool (H) moves the view. Undo/redo keep the mask's alpha
 * channel, as many steps as fit in about 96 MB.
 *
 * window.ImagegenMaskEditor: setImage({id, url, width, height}) chooses the image (each
 * image keeps its own mask for the page's life, so a validation error, another operation or
 * another first input loses nothing), open(), hasMask(), coverage(), exportBlob() (a
 * Promise of the PNG), drawPreview(canvas) and onchange (called after every change).
 * No inline styles (the CSP): sizes are canvas attributes. */
(function () {
  "use strict";

  const $ = (selector, root) => (root || document).querySelector(selector);
  const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));

  const TINT = "#ff2d6f";
  const TINT_ALPHA = 0.55;
  const UNDO_BYTES = 96 * 1024 * 1024;
  const MAX_ZOOM = 32;

  const states = new Map(); // image id -> its mask, history and loaded picture
  let current = null; // the state of the chosen image
  let tool = "brush";
  let size = 40;
  let feather = 25;
  let onchange = null;

  const dialog = () => $("#mask-editor");
  const canvas = () => $("#me-canvas");

  function makeCanvas(width, height) {
    const made = document.createElement("canvas");
    made.width = width;
    made.height = height;
    return made;
  }

  function filterSupported() {
    const context = makeCanvas(1, 1).getContext("2d");
    return typeof context.filter === "string";
  }
  const CAN_BLUR = filterSupported();

  /* ---- one image's state -------------------------------------------------------------- */

  function stateFor(image) {
    const key = String(image.id);
    let state = states.get(key);
    if (!state) {
      state = {id: key, url: image.url, width: Number(image.width), height: Number(image.height),
               picture: null, loading: null, mask: null, tint: null, stroke: null, work: null,
               alpha: null, undo: [], redo: [], coverage: 0, view: null};
      states.set(key, state);
    }
    return state;
  }

  function ensureCanvases(state) {
    if (state.mask) return;
    state.mask = makeCanvas(state.width, state.height);
    state.tint = makeCanvas(state.width, state.height);
    state.alpha = new Uint8ClampedArray(state.width * state.height);
  }

  function load(state) {
    if (!state.loading) {
      state.loading = new Promise((resolve, reject) => {
        const picture = new Image();
        picture.decoding = "async";
        picture.onload = () => {
          // The file is the truth: a mask must have its natural size.
          if (picture.naturalWidth && picture.naturalHeight &&
              (picture.naturalWidth !== state.width || picture.naturalHeight !== state.height)) {
            state.width = picture.naturalWidth;
            state.height = picture.naturalHeight;
            state.mask = null;
          }
          state.picture = picture;
          ensureCanvases(state);
          resolve(state);
        };
        picture.onerror = () => { state.loading = null; reject(new Error("The image could not be loaded.")); };
        picture.src = state.url;
      });
    }
    return state.loading;
  }

  function maxSteps(state) {
    return Math.max(4, Math.min(40, Math.floor(UNDO_BYTES / (state.width * state.height))));
  }

  /* ---- the mask's pixels ------------------------------------------------------------------ */

  // Reads the mask's alpha channel into state.alpha and its coverage (0–1).
  function measure(state) {
    const data = state.mask.getContext("2d").getImageData(0, 0, state.width, state.height).data;
    const alpha = state.alpha;
    let total = 0;
    for (let i = 0, j = 3; i < alpha.length; i += 1, j += 4) {
      alpha[i] = data[j];
      total += data[j];
    }
    state.coverage = total / 255 / alpha.length;
  }

  function restore(state, alpha) {
    const image = new ImageData(state.width, state.height);
    const data = image.data;
    for (let i = 0, j = 0; i < alpha.length; i += 1, j += 4) {
      data[j] = 255; data[j + 1] = 255; data[j + 2] = 255; data[j + 3] = alpha[i];
    }
    state.mask.getContext("2d").putImageData(image, 0, 0);
    measure(state);
  }

  // Before a change: the current mask goes on the undo stack; the redo stack is dropped.
  function remember(state) {
    state.undo.push(state.alpha.slice());
    if (state.undo.length > maxSteps(state)) state.undo.shift();
    state.redo = [];
  }

  function paintTint(state, source) {
    const context = state.tint.getContext("2d");
    context.globalCompositeOperation = "copy";
    context.drawImage(source, 0, 0);
    context.globalCompositeOperation = "source-in";
    context.fillStyle = TINT;
    context.fillRect(0, 0, state.width, state.height);
    context.globalCompositeOperation = "source-over";
  }

  function changed(state, words) {
    paintTint(state, state.mask);
    render();
    updateButtons();
    say(words);
    if (typeof onchange === "function") onchange(summary());
  }

  /* ---- strokes ------------------------------------------------------------------------------ */

  let stroke = null; // {pointerId, last: {x, y}, erase}

  function blurPx() {
    return CAN_BLUR && feather > 0 ? (feather / 100) * (size / 2) / 2 : 0;
  }

  // Draws the stroke canvas onto ``target`` (a context): blurred by the softness, added or cut.
  function applyStroke(target, erase) {
    const blur = blurPx();
    target.save();
    if (blur) target.filter = `blur(${blur}px)`;
    target.globalCompositeOperation = erase ? "destination-out" : "source-over";
    target.drawImage(current.stroke, 0, 0);
    target.restore();
  }

  function startStroke(event, point) {
    const state = current;
    if (!state.stroke) {
      state.stroke = makeCanvas(state.width, state.height);
      state.work = makeCanvas(state.width, state.height);
    }
    const context = state.stroke.getContext("2d");
    context.clearRect(0, 0, state.width, state.height);
    context.fillStyle = "#fff";
    context.strokeStyle = "#fff";
    context.lineCap = "round";
    context.lineJoin = "round";
    stroke = {pointerId: event.pointerId, last: point, erase: tool === "eraser", drawn: false};
    dab(point, width(event));
  }

  function width(event) {
    if (event.pointerType !== "pen") return size;
    const pressure = event.pressure > 0 ? event.pressure : 0.5;
    return Math.max(1, size * (0.15 + 0.85 * pressure));
  }

  function dab(point, diameter) {
    const context = current.stroke.getContext("2d");
    context.beginPath();
    context.arc(point.x, point.y, diameter / 2, 0, Math.PI * 2);
    context.fill();
    stroke.drawn = true;
    scheduleStrokeFrame();
  }

  function extendStroke(event) {
    const context = current.stroke.getContext("2d");
    const events = typeof event.getCoalescedEvents === "function" ? event.getCoalescedEvents() : [];
    for (const item of (events.length ? events : [event])) {
      const point = toImage(item.clientX, item.clientY);
      context.lineWidth = width(item);
      context.beginPath();
      context.moveTo(stroke.last.x, stroke.last.y);
      context.lineTo(point.x, point.y);
      context.stroke();
      stroke.last = point;
    }
    scheduleStrokeFrame();
  }

  let strokeFrame = 0;
  function scheduleStrokeFrame() {
    if (strokeFrame) return;
    strokeFrame = requestAnimationFrame(() => {
      strokeFrame = 0;
      if (!stroke || !current) return;
      const work = current.work.getContext("2d");
      work.globalCompositeOperation = "copy";
      work.drawImage(current.mask, 0, 0);
      work.globalCompositeOperation = "source-over";
      applyStroke(work, stroke.erase);
      paintTint(current, current.work);
      render();
    });
  }

  function endStroke(keep) {
    if (!stroke) return;
    const erase = stroke.erase;
    stroke = null;
    if (strokeFrame) { cancelAnimationFrame(strokeFrame); strokeFrame = 0; }
    if (!keep) { changed(current, ""); return; }
    remember(current);
    applyStroke(current.mask.getContext("2d"), erase);
    measure(current);
    changed(current, erase ? "Erased." : "");
  }

  /* ---- the view: zoom and pan ------------------------------------------------------------ */

  let dpr = 1;
  let stageWidth = 0;
  let stageHeight = 0;
  let hover = null; // the pointer over the stage, in CSS px, for the brush outline

  function fitScale() {
    if (!current || !stageWidth) return 1;
    return Math.min(stageWidth / current.width, stageHeight / current.height) * 0.96;
  }

  function fit() {
    if (!current) return;
    const scale = fitScale();
    current.view = {scale: scale, x: (stageWidth - current.width * scale) / 2,
                    y: (stageHeight - current.height * scale) / 2};
    render();
  }

  function zoomAt(px, py, factor) {
    const view = current && current.view;
    if (!view) return;
    const scale = Math.min(MAX_ZOOM, Math.max(fitScale() / 4, view.scale * factor));
    view.x = px - (px - view.x) * (scale / view.scale);
    view.y = py - (py - view.y) * (scale / view.scale);
    view.scale = scale;
    render();
  }

  function zoomCentre(factor) { zoomAt(stageWidth / 2, stageHeight / 2, factor); }

  function toStage(clientX, clientY) {
    const box = canvas().getBoundingClientRect();
    return {x: clientX - box.left, y: clientY - box.top};
  }

  function toImage(clientX, clientY) {
    const point = toStage(clientX, clientY);
    const view = current.view;
    return {x: (point.x - view.x) / view.scale, y: (point.y - view.y) / view.scale};
  }

  function resize() {
    const stage = $("#me-stage");
    if (!stage || !dialog().open) return;
    const box = stage.getBoundingClientRect();
    const hadView = current && current.view && stageWidth;
    const oldWidth = stageWidth;
    const oldHeight = stageHeight;
    dpr = window.devicePixelRatio || 1;
    stageWidth = Math.max(1, Math.floor(box.width));
    stageHeight = Math.max(1, Math.floor(box.height));
    canvas().width = Math.round(stageWidth * dpr);
    canvas().height = Math.round(stageHeight * dpr);
    if (hadView) {
      // Keep what was in the middle in the middle.
      current.view.x += (stageWidth - oldWidth) / 2;
      current.view.y += (stageHeight - oldHeight) / 2;
      render();
    } else {
      fit();
    }
  }

  let edgeColour = "#888"; // the theme's --border, read when the editor opens

  function readTheme() {
    edgeColour = getComputedStyle(dialog()).getPropertyValue("--border").trim() || "#888";
  }

  function render() {
    const stage = canvas();
    if (!stage || !dialog().open) return;
    const context = stage.getContext("2d");
    context.setTransform(1, 0, 0, 1, 0, 0);
    context.clearRect(0, 0, stage.width, stage.height);
    context.setTransform(dpr, 0, 0, dpr, 0, 0);
    $("#me-zoom").textContent = current && current.view ? Math.round(current.view.scale * 100) + "%" : "";
    if (!current || !current.picture || !current.view) return;
    const view = current.view;
    const width = current.width * view.scale;
    const height = current.height * view.scale;
    context.imageSmoothingEnabled = view.scale < 3;
    context.drawImage(current.picture, view.x, view.y, width, height);
    context.globalAlpha = TINT_ALPHA;
    context.drawImage(current.tint, view.x, view.y, width, height);
    context.globalAlpha = 1;
    context.strokeStyle = edgeColour;
    context.lineWidth = 1;
    context.strokeRect(view.x - 0.5, view.y - 0.5, width + 1, height + 1);
    if (hover && tool !== "pan" && !gesture) {
      // The brush: a dark and a light ring, visible on any picture.
      const radius = Math.max(1, (size / 2) * view.scale);
      context.beginPath();
      context.arc(hover.x, hover.y, radius, 0, Math.PI * 2);
      context.strokeStyle = "rgba(0, 0, 0, .75)";
      context.lineWidth = 3;
      context.stroke();
      context.strokeStyle = tool === "eraser" ? "#fff" : TINT;
      context.lineWidth = 1.5;
      context.stroke();
    }
  }

  /* ---- pointers: paint, pan, pinch ------------------------------------------------------- */

  const pointers = new Map(); // pointerId -> {x, y} in client px
  let pan = null; // {pointerId, x, y, viewX, viewY}
  let gesture = null; // {distance, mid, view}
  let ignoreUntilAllUp = false;

  function middle() {
    const [a, b] = Array.from(pointers.values());
    return {x: (a.x + b.x) / 2, y: (a.y + b.y) / 2, distance: Math.hypot(a.x - b.x, a.y - b.y) || 1};
  }

  function onPointerDown(event) {
    if (!current || !current.picture || !current.view) return;
    event.preventDefault();
    canvas().setPointerCapture(event.pointerId);
    pointers.set(event.pointerId, {x: event.clientX, y: event.clientY});
    if (pointers.size === 2) {
      // A second finger: the stroke the first one began was the start of a pinch.
      endStroke(false);
      pan = null;
      const mid = middle();
      gesture = {distance: mid.distance, mid: mid, view: Object.assign({}, current.view)};
      ignoreUntilAllUp = true;
      return;
    }
    if (pointers.size > 2 || ignoreUntilAllUp) return;
    if (tool === "pan" || event.button === 1) {
      pan = {pointerId: event.pointerId, x: event.clientX, y: event.clientY,
             viewX: current.view.x, viewY: current.view.y};
      canvas().classList.add("is-panning");
      return;
    }
    if (event.button !== 0) return;
    startStroke(event, toImage(event.clientX, event.clientY));
  }

  function onPointerMove(event) {
    if (!current || !current.view) return;
    if (event.pointerType !== "touch") hover = toStage(event.clientX, event.clientY);
    if (pointers.has(event.pointerId)) pointers.set(event.pointerId, {x: event.clientX, y: event.clientY});
    if (gesture && pointers.size >= 2) {
      const now = middle();
      const box = canvas().getBoundingClientRect();
      const start = gesture.view;
      const scale = Math.min(MAX_ZOOM, Math.max(fitScale() / 4, start.scale * now.distance / gesture.distance));
      const anchorX = gesture.mid.x - box.left;
      const anchorY = gesture.mid.y - box.top;
      // The image point under the first midpoint stays under the fingers' midpoint.
      current.view.scale = scale;
      current.view.x = (now.x - box.left) - (anchorX - start.x) * (scale / start.scale);
      current.view.y = (now.y - box.top) - (anchorY - start.y) * (scale / start.scale);
      render();
      return;
    }
    if (pan && pan.pointerId === event.pointerId) {
      current.view.x = pan.viewX + event.clientX - pan.x;
      current.view.y = pan.viewY + event.clientY - pan.y;
      render();
      return;
    }
    if (stroke && stroke.pointerId === event.pointerId) {
      extendStroke(event);
      return;
    }
    render(); // the brush outline follows the pointer
  }

  function onPointerUp(event) {
    pointers.delete(event.pointerId);
    if (stroke && stroke.pointerId === event.pointerId) endStroke(event.type === "pointerup");
    if (pan && pan.pointerId === event.pointerId) {
      pan = null;
      canvas().classList.remove("is-panning");
    }
    if (pointers.size < 2) gesture = null;
    if (pointers.size === 0) ignoreUntilAllUp = false;
    if (event.pointerType === "touch") hover = null;
    render();
  }

  function onWheel(event) {
    if (!current || !current.view) return;
    event.preventDefault();
    const point = toStage(event.clientX, event.clientY);
    const unit = event.deltaMode === 1 ? 0.05 : event.deltaMode === 2 ? 0.5 : 0.0015;
    zoomAt(point.x, point.y, Math.exp(-event.deltaY * unit));
  }

  /* ---- commands ------------------------------------------------------------------------------ */

  function setTool(name) {
    tool = name;
    $$(".me-tool", dialog()).forEach((button) => {
      button.setAttribute("aria-pressed", String(button.dataset.tool === name));
    });
    canvas().classList.toggle("is-pan-tool", name === "pan");
    say({brush: "Brush.", eraser: "Eraser.", pan: "Pan: drag to move the view."}[name]);
    render();
  }

  function setSize(value) {
    const input = $("#me-size");
    size = Math.max(Number(input.min), Math.min(Number(input.max), Math.round(value)));
    input.value = String(size);
    $("#me-size-out").textContent = size + " px";
    render();
  }

  function setFeather(value) {
    feather = Math.max(0, Math.min(100, Math.round(value)));
    $("#me-feather").value = String(feather);
    $("#me-feather-out").textContent = feather + "%";
  }

  function undo() {
    if (!current || !current.undo.length) return;
    current.redo.push(current.alpha.slice());
    restore(current, current.undo.pop());
    changed(current, "Undone.");
  }

  function redo() {
    if (!current || !current.redo.length) return;
    current.undo.push(current.alpha.slice());
    restore(current, current.redo.pop());
    changed(current, "Redone.");
  }

  function invert() {
    if (!current || !current.mask) return;
    remember(current);
    const context = current.mask.getContext("2d");
    context.globalCompositeOperation = "xor"; // opaque white xor the mask: alpha becomes 1 − alpha
    context.fillStyle = "#fff";
    context.fillRect(0, 0, current.width, current.height);
    context.globalCompositeOperation = "source-over";
    measure(current);
    changed(current, "Inverted.");
  }

  function clear() {
    if (!current || !current.mask || current.coverage === 0) { say("The mask is already empty."); return; }
    remember(current);
    current.mask.getContext("2d").clearRect(0, 0, current.width, current.height);
    measure(current);
    changed(current, "Cleared.");
  }

  function updateButtons() {
    const root = dialog();
    if (!root) return;
    $('[data-me="undo"]', root).disabled = !current || !current.undo.length;
    $('[data-me="redo"]', root).disabled = !current || !current.redo.length;
    $('[data-me="clear"]', root).disabled = !current || !current.coverage;
  }

  function coverageText(state) {
    if (!state || !state.coverage) return "Nothing painted yet.";
    const percent = state.coverage * 100;
    const shown = percent < 1 ? "less than 1" : percent > 99 && percent < 100 ? "over 99" : String(Math.round(percent));
    return `The mask covers ${shown}% of the image.`;
  }

  function say(words) {
    const status = $("#me-status");
    if (!status) return;
    status.textContent = (words ? words + " " : "") + coverageText(current);
  }

  function summary() {
    return {id: current ? current.id : null, coverage: current ? current.coverage : 0,
            text: coverageText(current)};
  }

  /* ---- open, close, keyboard ------------------------------------------------------------ */

  let opener = null;
  let observer = null;

  async function open() {
    const root = dialog();
    if (!root || !current) return;
    opener = document.activeElement;
    if (!root.open) root.showModal();
    readTheme();
    const loading = $("#me-loading");
    loading.hidden = Boolean(current.picture);
    try {
      await load(current);
    } catch (error) {
      loading.textContent = error.message;
      loading.hidden = false;
      return;
    }
    loading.hidden = true;
    // A sensible first brush: about a twentieth of the picture's shorter side.
    const sizeInput = $("#me-size");
    sizeInput.max = String(Math.max(8, Math.round(Math.max(current.width, current.height) / 2)));
    if (!root.dataset.sized) {
      setSize(Math.max(4, Math.round(Math.min(current.width, current.height) / 20)));
      root.dataset.sized = "1";
    } else {
      setSize(size);
    }
    stageWidth = 0;
    resize();
    paintTint(current, current.mask);
    render();
    updateButtons();
    say("");
  }

  function close() {
    const root = dialog();
    endStroke(true);
    pointers.clear();
    pan = null;
    gesture = null;
    if (root.open) root.close();
  }

  function onKeyDown(event) {
    // The page's own shortcuts (Esc cancels a generation, / ? Ctrl+Enter) stay out of here.
    event.stopPropagation();
    const key = event.key;
    const mod = event.ctrlKey || event.metaKey;
    if (mod && (key === "z" || key === "Z")) {
      event.preventDefault();
      if (event.shiftKey) redo(); else undo();
      return;
    }
    if (mod && (key === "y" || key === "Y")) { event.preventDefault(); redo(); return; }
    if (mod || event.altKey) return;
    const onSlider = event.target.matches && event.target.matches("input[type=range]");
    const actions = {
      b: () => setTool("brush"), e: () => setTool("eraser"), h: () => setTool("pan"),
      i: invert, "[": () => setSize(size * 0.85 - 1), "]": () => setSize(size * 1.15 + 1),
      "+": () => zoomCentre(1.25), "=": () => zoomCentre(1.25), "-": () => zoomCentre(0.8),
      "0": fit,
    };
    const action = actions[key.length === 1 ? key.toLowerCase() : key];
    if (!action || (onSlider && (key === "-" || key === "+"))) return;
    event.preventDefault();
    action();
  }

  function init() {
    const root = dialog();
    if (!root) return;
    const stage = canvas();
    stage.addEventListener("pointerdown", onPointerDown);
    stage.addEventListener("pointermove", onPointerMove);
    stage.addEventListener("pointerup", onPointerUp);
    stage.addEventListener("pointercancel", onPointerUp);
    stage.addEventListener("pointerleave", () => { hover = null; render(); });
    stage.addEventListener("wheel", onWheel, {passive: false});
    stage.addEventListener("contextmenu", (event) => event.preventDefault());
    root.addEventListener("keydown", onKeyDown);
    root.addEventListener("click", (event) => {
      const toolButton = event.target.closest(".me-tool");
      if (toolButton) { setTool(toolButton.dataset.tool); return; }
      const command = event.target.closest("[data-me]");
      if (!command) return;
      ({undo: undo, redo: redo, invert: invert, clear: clear, fit: fit, done: close,
        "zoom-in": () => zoomCentre(1.25), "zoom-out": () => zoomCentre(0.8)})[command.dataset.me]();
    });
    root.addEventListener("close", () => {
      endStroke(true);
      if (opener && opener.isConnected) opener.focus();
      opener = null;
    });
    $("#me-size").addEventListener("input", (event) => setSize(Number(event.target.value)));
    $("#me-feather").addEventListener("input", (event) => setFeather(Number(event.target.value)));
    if (typeof ResizeObserver === "function") {
      observer = new ResizeObserver(() => resize());
      observer.observe($("#me-stage"));
    } else {
      window.addEventListener("resize", resize);
    }
    setSize(size);
    setFeather(feather);
    updateButtons();
  }

  /* ---- the page's side --------------------------------------------------------------------- */

  function setImage(image) {
    if (!image) { current = null; updateButtons(); return; }
    const state = stateFor(image);
    if (current === state) return;
    if (stroke) endStroke(true);
    current = state;
    updateButtons();
    if (dialog() && dialog().open) open();
  }

  function exportBlob() {
    if (!current || !current.mask || !current.coverage) return Promise.resolve(null);
    const out = makeCanvas(current.width, current.height);
    const context = out.getContext("2d");
    context.fillStyle = "#000";
    context.fillRect(0, 0, current.width, current.height);
    context.drawImage(current.mask, 0, 0); // white over black; a soft edge is grey
    return new Promise((resolve) => out.toBlob(resolve, "image/png"));
  }

  // The form's small preview: the picture with the mask over it, in the canvas's box.
  async function drawPreview(target) {
    if (!target) return;
    const state = current;
    const context = target.getContext("2d");
    if (!state) { context.clearRect(0, 0, target.width, target.height); return; }
    try { await load(state); } catch (error) { return; }
    if (state !== current) return;
    const box = 160;
    const scale = Math.min(box / state.width, box / state.height);
    target.width = Math.max(1, Math.round(state.width * scale));
    target.height = Math.max(1, Math.round(state.height * scale));
    context.drawImage(state.picture, 0, 0, target.width, target.height);
    if (state.coverage) {
      paintTint(state, state.mask);
      context.globalAlpha = TINT_ALPHA;
      context.drawImage(state.tint, 0, 0, target.width, target.height);
      context.globalAlpha = 1;
    }
  }

  window.ImagegenMaskEditor = {
    setImage: setImage,
    open: open,
    close: close,
    hasMask: () => Boolean(current && current.coverage),
    coverage: () => (current ? current.coverage : 0),
    summary: summary,
    exportBlob: exportBlob,
    drawPreview: drawPreview,
    set onchange(callback) { onchange = callback; },
    get onchange() { return onchange; },
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();

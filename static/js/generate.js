/* The Generate page: the form is submitted by fetch and never swapped (field errors are
 * filled in, new cards are prepended to the feed), each card follows its generation live,
 * aspect chips set the size, the Advanced section remembers whether it was open, and the
 * price line follows the model, size and quality. The image inputs (generate_inputs.js:
 * operation, input tray, mask) add the painted mask to the submission (ImagegenInputs.prepare).
 *
 * Live updates: live.js (base.html loads it on every signed-in page) dispatches
 * `imagegen:generation` (detail {id, status}, and progress while a running job reports one)
 * on document when one of the user's generations changes, and `imagegen:resync` on every
 * (re)connection; each refetches only the cards concerned (one small GET by id), except that
 * a new progress of a card that shows a bar moves the bar in place. URLs come from data- attributes;
 * the CSP allows no inline script or style, so sizes are set through CSSOM or SVG viewBox. */
(function () {
  "use strict";

  const $ = (selector, root) => (root || document).querySelector(selector);
  const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));
  const api = () => window.ImagegenApi;
  const toast = (text, opts) => window.ImagegenUI && window.ImagegenUI.toast(text, opts);

  const form = () => $("#generate-form");
  const feed = () => $("#feed");

  /* ---- helpers ---------------------------------------------------------------------- */

  function headers(accept) {
    return {"X-CSRFToken": api().csrfToken(), "X-Requested-With": "fetch", Accept: accept};
  }

  async function readBody(response) {
    const type = response.headers.get("Content-Type") || "";
    if (/json/.test(type)) {
      try { return await response.json(); } catch (error) { return null; }
    }
    const text = await response.text();
    return {detail: text.length < 500 ? text : ""};
  }

  function fragment(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content;
  }

  function debounce(fn, ms) {
    let timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  const reducedMotion = () => window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  const narrow = () => window.matchMedia("(max-width: 800px)").matches;

  /* ---- field errors --------------------------------------------------------------------- */

  function clearErrors() {
    $$(".field-error", form()).forEach((box) => { box.textContent = ""; box.hidden = true; });
    $$("[aria-invalid=true]", form()).forEach((input) => input.removeAttribute("aria-invalid"));
    const general = $("#form-errors");
    general.textContent = "";
    general.hidden = true;
  }

  function showErrors(errors, missingKey) {
    clearErrors();
    const general = [];
    let first = null;
    for (const [field, messages] of Object.entries(errors || {})) {
      // The linked callout says it; the same words again under the picker would be noise.
      if (field === "provider" && missingKey) continue;
      const box = $(`.field-error[data-field="${CSS.escape(field)}"]`, form());
      if (!box) { general.push(...messages); continue; }
      box.textContent = messages.join(" ");
      box.hidden = false;
      let input = form().elements[field];
      // Fields a person does not type in (the input tray's hidden ids, the drawn mask, the
      // outpaint choices): the error goes with the first control of their part of the form.
      if (!input || !input.setAttribute || input.type === "hidden") {
        const part = box.closest("[data-section], fieldset, .input-tray");
        input = part ? part.querySelector("button:not([disabled]), input:not([type=hidden]):not([disabled]), select") : null;
      } else {
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", box.id);
      }
      if (!first) first = input && input.focus ? input : box;
      const advanced = box.closest("details");
      if (advanced) advanced.open = true;
    }
    if (general.length) {
      $("#form-errors").textContent = general.join(" ");
      $("#form-errors").hidden = false;
    }
    if (missingKey) {
      const callout = $("#key-callout");
      if (callout) callout.scrollIntoView({block: "nearest"});
      else $("#id_provider").dispatchEvent(new Event("change", {bubbles: true}));
    }
    if (first && first.focus) first.focus();
  }

  /* ---- the feed --------------------------------------------------------------------------- */

  function cardUrl(id) {
    return api().urlFor(feed().dataset.cardUrl, id);
  }

  function prepareCards(root) {
    $$(".gen-card", root).forEach((card) => {
      card.dataset.loadedAt = String(Date.now());
    });
    tick();
  }

  function prependCards(html) {
    const content = fragment(html);
    const cards = $$(".gen-card", content);
    for (const card of cards.reverse()) {
      const old = document.getElementById(card.id);
      if (old) old.remove();
      feed().prepend(card);
    }
    $("#feed-empty").hidden = true;
    prepareCards(feed());
    return $$(".gen-card", feed()).slice(0, cards.length);
  }

  const inFlight = new Map(); // id -> serial of the newest request for that card
  let serial = 0;

  async function refreshCard(id) {
    const mine = ++serial;
    inFlight.set(String(id), mine);
    let response;
    try {
      response = await fetch(cardUrl(id), {credentials: "same-origin", headers: headers("text/html")});
    } catch (error) {
      return; // offline for a moment: the next event or poll tries again
    }
    if (inFlight.get(String(id)) !== mine) return; // a newer answer is on its way
    inFlight.delete(String(id));
    if (response.status === 404) {
      const gone = document.getElementById("generation-" + id);
      if (gone) gone.remove();
      return;
    }
    if (!response.ok) return;
    const content = fragment(await response.text());
    const card = $(".gen-card", content);
    if (!card) return;
    const old = document.getElementById(card.id);
    if (old && old.dataset.finished === "true" && old.dataset.status === card.dataset.status) return;
    if (old) {
      const was = old.dataset.status;
      const hadFocus = old.contains(document.activeElement);
      old.replaceWith(card);
      if (hadFocus) card.focus({preventScroll: true});
      announce(card, was);
    } else {
      // A generation started elsewhere (the API, another tab): newest first.
      const newer = $$(".gen-card", feed()).find((other) => Number(other.dataset.id) < Number(id));
      feed().insertBefore(card, newer || null);
      $("#feed-empty").hidden = true;
    }
    prepareCards(card.parentNode);
  }

  function announce(card, was) {
    const now = card.dataset.status;
    if (was === now || !["queued", "running"].includes(was)) return;
    const id = "#" + card.dataset.id;
    if (now === "succeeded") toast(`Generation ${id} is ready.`, {kind: "success"});
    else if (now === "failed") toast(`Generation ${id} failed: ${$(".gen-error-text", card)?.textContent || ""}`, {kind: "error"});
  }

  const pendingIds = () => $$(".gen-card[data-finished=false]", feed()).map((card) => card.dataset.id);
  const waitingIds = () => $$(".gen-card[data-status=queued]", feed()).map((card) => card.dataset.id);

  // The changed card is read again (one GET by id). A generation that starts or finishes
  // also moves the queue positions of the ones still waiting, which get no event of their
  // own: those few cards are read again too. Once per burst of events.
  const changed = new Set();
  let alsoWaiting = false;
  const flush = debounce(() => {
    const ids = new Set(changed);
    if (alsoWaiting) waitingIds().forEach((id) => ids.add(id));
    changed.clear();
    alsoWaiting = false;
    ids.forEach(refreshCard);
  }, 120);

  // A state change, or (imagegen:progress) a running job's bar moving: the same handling.
  function onGeneration(event) {
    if (!feed() || !event.detail || event.detail.id === undefined) return;
    // A generation's own page shows only its card: it follows that one alone.
    const shown = document.getElementById("generation-" + event.detail.id);
    if (!form() && !shown) return;
    // A finished card the event tells nothing new about stays as it is: replacing it would
    // close a menu its action bar has open under the user's pointer.
    if (shown && shown.dataset.finished === "true" && shown.dataset.status === event.detail.status) return;
    // A running job's new progress moves its bar in place: no request, and focus (on Cancel,
    // say) stays where it is at two events a second.
    if (shown && moveProgress(shown, event.detail)) return;
    changed.add(String(event.detail.id));
    if (event.detail.status !== "queued") alsoWaiting = Boolean(form());
    flush();
  }
  document.addEventListener("imagegen:generation", onGeneration);
  document.addEventListener("imagegen:progress", onGeneration);
  // After a reconnect events may have been missed: read every card still in flight.
  document.addEventListener("imagegen:resync", () => {
    if (!feed()) return;
    pendingIds().forEach((id) => changed.add(id));
    flush();
  });

  /* ---- progress bars (backends that report steps) ------------------------------------ */

  // Below this a reported progress says too little of the pace (generation/progress.py,
  // MIN_PROGRESS, which the card's first estimate comes from).
  const MIN_PROGRESS = 0.05;

  // The event's progress on a card that shows a bar, when only the progress changed: the bar,
  // its text and name, and the estimate (what is left at the pace so far, as the server
  // estimates it). False when the card must be read again (another status, no bar yet, or the
  // same progress: then something else changed, a cancel request say).
  function moveProgress(card, detail) {
    const box = $(".gen-progress", card);
    const value = Number(detail.progress);
    if (!box || detail.status !== "running" || card.dataset.status !== "running") return false;
    if (typeof detail.progress !== "number" || !Number.isFinite(value)) return false;
    if (Math.abs(value - Number(box.dataset.progress)) < 1e-6) return false;
    const fraction = Math.min(1, Math.max(0, value));
    const percent = Math.round(fraction * 100);
    box.dataset.progress = String(fraction);
    $("[data-progress-text]", box).textContent = `${percent} %`;
    const bar = $("[role=progressbar]", box);
    bar.setAttribute("aria-valuenow", String(percent));
    bar.setAttribute("aria-label", `Generation ${card.dataset.id}: ${percent} %`);
    $(".gen-progress-fill", box).setAttribute("width", String(percent));
    const ran = Date.now() - Number(card.dataset.since);
    if (fraction >= MIN_PROGRESS && card.dataset.since && ran >= 0) {
      let eta = $("[data-eta-ms]", card);
      if (!eta) {
        eta = document.createElement("p");
        eta.className = "gen-eta muted small";
        box.after(eta);
      }
      eta.dataset.etaMs = String(Math.round(ran * (1 - fraction) / fraction));
      card.dataset.loadedAt = String(Date.now());
      tick();
    }
    return true;
  }

  /* ---- elapsed time and estimates, ticking in the page ------------------------------- */

  function clock(ms) {
    const total = Math.max(0, Math.floor(ms / 1000));
    const hours = Math.floor(total / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    const seconds = String(total % 60).padStart(2, "0");
    return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${seconds}` : `${minutes}:${seconds}`;
  }

  function etaText(ms) {
    const left = Math.round(ms / 1000);
    if (left <= 0) return "Should finish any moment";
    if (left < 60) return `About ${left} s left`;
    return `About ${Math.round(left / 60)} min left`;
  }

  function tick() {
    const now = Date.now();
    $$(".gen-card[data-finished=false]").forEach((card) => {
      const elapsed = $("[data-elapsed]", card);
      if (elapsed && card.dataset.since) elapsed.textContent = clock(now - Number(card.dataset.since));
      const eta = $("[data-eta-ms]", card);
      if (eta) {
        const loaded = Number(card.dataset.loadedAt || now);
        eta.textContent = etaText(Number(eta.dataset.etaMs) - (now - loaded));
      }
    });
  }
  setInterval(tick, 1000);

  /* ---- cancel and retry ------------------------------------------------------------------ */

  async function cancel(button) {
    const card = button.closest(".gen-card");
    button.disabled = true;
    const response = await fetch(button.dataset.cancelUrl, {
      method: "POST", credentials: "same-origin", headers: headers("text/html"),
    }).catch(() => null);
    if (!response || !response.ok) {
      button.disabled = false;
      toast("Could not cancel: " + ((response && (await readBody(response)).detail) || "the server could not be reached."), {kind: "error"});
      return;
    }
    const replacement = $(".gen-card", fragment(await response.text()));
    if (replacement && card.isConnected) {
      card.replaceWith(replacement);
      prepareCards(replacement.parentNode);
      replacement.focus({preventScroll: true});
    }
    const status = replacement ? replacement.dataset.status : "";
    if (status === "canceled") toast(`Generation #${card.dataset.id} canceled.`, {kind: "success"});
    else if (status === "running") toast(`Stopping generation #${card.dataset.id}…`, {kind: "info"});
    else toast(`Generation #${card.dataset.id} had already finished.`, {kind: "info"});
  }

  async function retry(button) {
    button.disabled = true;
    const response = await fetch(button.dataset.retryUrl, {
      method: "POST", credentials: "same-origin", headers: headers("application/json"),
    }).catch(() => null);
    button.disabled = false;
    const body = response ? await readBody(response) : null;
    if (!response || !response.ok || !body || !body.cards) {
      toast("Could not retry: " + ((body && api().errorText(body)) || "the server could not be reached."), {kind: "error"});
      return;
    }
    const [card] = prependCards(body.cards);
    toast(`Queued again as #${body.ids[0]}.`, {kind: "success"});
    if (card) reveal(card);
  }

  function reveal(card) {
    if (narrow()) card.scrollIntoView({block: "start", behavior: reducedMotion() ? "auto" : "smooth"});
  }

  /* ---- submit ---------------------------------------------------------------------------- */

  async function submit(event) {
    event.preventDefault();
    const theForm = event.target;
    const button = $("#generate-button");
    if (button.disabled || theForm.dataset.busy) return;
    theForm.dataset.busy = "1";
    button.setAttribute("aria-busy", "true");
    const body = new FormData(theForm);
    // The image inputs add what no field holds (the mask painted in the mask editor).
    const notYet = window.ImagegenInputs ? await window.ImagegenInputs.prepare(body) : "";
    if (notYet) {
      delete theForm.dataset.busy;
      button.removeAttribute("aria-busy");
      toast(notYet, {kind: "warning"});
      return;
    }
    let response = null;
    try {
      response = await fetch(theForm.action, {
        method: "POST", credentials: "same-origin", body: body,
        headers: headers("application/json"),
      });
    } catch (error) {
      response = null;
    }
    delete theForm.dataset.busy;
    button.removeAttribute("aria-busy");
    if (!response) {
      toast("The server could not be reached; nothing was queued.", {kind: "error"});
      return;
    }
    const answer = await readBody(response);
    if (response.status === 201 && answer && answer.cards) {
      clearErrors();
      const cards = prependCards(answer.cards);
      const count = answer.ids.length;
      toast(count > 1 ? `Queued ${count} generations.` : `Queued generation #${answer.ids[0]}.`, {kind: "success"});
      if (cards[0]) reveal(cards[0]);
    } else if (response.ok && answer && answer.errors) {
      showErrors(answer.errors, answer.missing_key);
    } else {
      // A budget or queue limit (429), a conflict: said in words, the form stays as it is.
      clearErrors();
      const text = api().errorText(answer, "The generation could not be queued.");
      $("#form-errors").textContent = text;
      $("#form-errors").hidden = false;
      toast(text, {kind: "error"});
    }
    const area = $("#generate-area");
    if (area) area.dispatchEvent(new CustomEvent("generate-area-settled")); // the budget notice
  }

  document.addEventListener("submit", (event) => {
    if (event.target === form()) submit(event);
  });

  /* ---- aspect chips, sizes, model fit ---------------------------------------------------- */

  function markChips() {
    const width = $("#id_width") && $("#id_width").value;
    const height = $("#id_height") && $("#id_height").value;
    $$(".aspect-chip").forEach((chip) => {
      chip.setAttribute("aria-pressed", String(chip.dataset.width === width && chip.dataset.height === height));
    });
  }

  function setSize(width, height) {
    $("#id_width").value = width;
    $("#id_height").value = height;
    markChips();
    // The budget notice and the price line follow the size like any other change.
    $("#id_width").dispatchEvent(new Event("change", {bubbles: true}));
  }

  // A model with a fixed list of sizes cannot take one it does not list, and a model made for
  // its own size (a ComfyUI SD 1.5 workflow: 512 px) should not start at another: choose its
  // size of the nearest ratio (the user's shape survives a model change where it can).
  function fitSize(info) {
    if (info.dataset.fixedSizes !== "true" && info.dataset.ownSize !== "true") return;
    const chips = $$(".aspect-chip", info);
    if (!chips.length || chips.some((chip) => chip.getAttribute("aria-pressed") === "true")) return;
    const width = Number($("#id_width").value) || 1;
    const height = Number($("#id_height").value) || 1;
    const ratio = Math.log(width / height);
    const best = chips.reduce((a, b) => (
      Math.abs(Math.log(a.dataset.width / a.dataset.height) - ratio) <=
      Math.abs(Math.log(b.dataset.width / b.dataset.height) - ratio) ? a : b));
    setSize(best.dataset.width, best.dataset.height);
  }

  // When the model changes, fit steps and CFG to it: a field the model does not take is
  // disabled, and a value outside its range is cleared (the model's default then applies).
  function fitField(input, range, fallback) {
    if (!input) return;
    if (!range) {
      input.value = "";
      input.disabled = true;
      input.placeholder = "not used";
      input.title = "This model does not take it";
      return;
    }
    const [low, high] = range.split(",").map(Number);
    input.disabled = false;
    input.removeAttribute("title");
    input.placeholder = fallback ? `model default (${fallback})` : "model default";
    const value = Number(input.value);
    if (input.value !== "" && (value < low || value > high)) input.value = "";
  }

  // A negative prompt or a seed the model does not take (a ComfyUI workflow that maps none,
  // a model without one) is disabled, as steps and CFG are: what is typed would be refused.
  function fitOptional(input, takes) {
    if (!input) return;
    if (takes) {
      if (input.dataset.unused === "true") {
        input.disabled = false;
        input.placeholder = input.dataset.placeholder || "";
        input.removeAttribute("title");
        delete input.dataset.unused;
      }
      return;
    }
    if (input.dataset.unused !== "true") input.dataset.placeholder = input.placeholder;
    input.dataset.unused = "true";
    input.value = "";
    input.disabled = true;
    input.placeholder = "not used";
    input.title = "This model does not take it";
  }

  function applyModel(info) {
    const theForm = form();
    fitField(theForm.elements.steps, info.dataset.steps, info.dataset.defaultSteps);
    fitField(theForm.elements.cfg_scale, info.dataset.cfg, info.dataset.defaultCfg);
    fitOptional(theForm.elements.negative_prompt, info.dataset.negativePrompt !== "false");
    fitOptional(theForm.elements.seed, info.dataset.seed !== "false");
    const button = $("#generate-button");
    const can = info.dataset.canGenerate === "true";
    button.disabled = !can;
    if (can) button.removeAttribute("aria-describedby");
    else button.setAttribute("aria-describedby", "key-callout");
    if (can) {
      const providerError = $('.field-error[data-field="provider"]', theForm);
      if (providerError) { providerError.hidden = true; providerError.textContent = ""; }
    }
    markChips();
    fitSize(info);
    refreshPrice();
  }

  const refreshPrice = debounce(() => {
    const line = $("#price-line");
    if (line && window.htmx) line.dispatchEvent(new CustomEvent("price-refresh"));
  }, 200);

  document.addEventListener("click", (event) => {
    const chip = event.target.closest(".aspect-chip");
    if (chip) { setSize(chip.dataset.width, chip.dataset.height); return; }
    const cancelButton = event.target.closest(".gen-cancel");
    if (cancelButton) { cancel(cancelButton); return; }
    const retryButton = event.target.closest(".gen-retry");
    if (retryButton) retry(retryButton);
  });

  document.addEventListener("input", (event) => {
    if (event.target.id === "id_width" || event.target.id === "id_height") {
      markChips();
      refreshPrice();
    }
  });
  document.addEventListener("change", (event) => {
    if (!form() || !form().contains(event.target)) return;
    if (event.target.matches("#id_width, #id_height, #model-options select, #id_model")) refreshPrice();
  });

  document.addEventListener("htmx:afterSwap", (event) => {
    const info = event.detail.target && event.detail.target.querySelector && event.detail.target.querySelector(".model-info");
    if (info) applyModel(info);
  });

  /* ---- Advanced: open or closed as this user left it (localStorage, keyed by username) -- */

  function restoreAdvanced() {
    const details = $("#advanced");
    if (!details) return;
    const key = form().dataset.advancedKey;
    if (!details.open) {
      try { details.open = window.localStorage.getItem(key) === "open"; } catch (error) { /* private mode */ }
    }
    details.addEventListener("toggle", () => {
      try { window.localStorage.setItem(key, details.open ? "open" : "closed"); } catch (error) { /* ignore */ }
    });
  }

  function init() {
    if (feed()) prepareCards(feed()); // the feed, or one card on a generation's own page
    if (!form()) return;
    restoreAdvanced();
    markChips();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();

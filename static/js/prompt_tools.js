/* Prompt tools on the Generate page: style preview, enhance-then-accept, history
 * autocomplete, variation count and cost, keyboard shortcuts and their help overlay.
 * Elements are looked up when used and events are delegated from the document (the model
 * info and the feed's cards are swapped in). The API's URLs are the elements' data- attributes
 * (generation/_area.html); requests go through ImagegenApi (api.js). */
(function () {
  "use strict";

  const $ = (selector, root) => (root || document).querySelector(selector);
  const form = () => $("#generate-area form.generate-form");
  const promptBox = () => $("#id_prompt");
  const { request, errorText, urlFor } = window.ImagegenApi;

  function debounce(fn, ms) {
    let timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  /* --- Style preview ----------------------------------------------------------------- */

  function updateStylePreview() {
    const preview = $("#style-preview");
    const select = $("#id_style");
    if (!preview || !select) return;
    const option = select.selectedOptions[0];
    if (!select.value || !option) {
      preview.hidden = true;
      return;
    }
    const text = (promptBox() ? promptBox().value : "").trim();
    const template = option.dataset.template || "{prompt}";
    $("[data-final-prompt]", preview).textContent =
      (text ? template.split("{prompt}").join(text) : template).trim();
    const userNegative = ($("#id_negative_prompt") ? $("#id_negative_prompt").value : "").trim();
    const negative = [userNegative, (option.dataset.negative || "").trim()]
      .filter(Boolean).join(", ");
    $("[data-final-negative]", preview).textContent = negative ? "Negative: " + negative : "";
    preview.hidden = false;
  }

  /* --- Variation count and estimate (server preview) ---------------------------------- */

  const NUMBERS = ["width", "height", "num_images", "steps", "seed", "project", "style"];

  const FLOATS = ["cfg_scale", "strength", "scale"];
  const SIDES = ["left", "top", "right", "bottom"];

  /* The form as a body for the generate API: the tray's input_images as a list of ids, the
     outpaint_* fields as one outpaint object. A painted mask (a file) is not sent: the
     preview of an inpaint then says what is missing instead of counting. */
  function submission() {
    const data = {};
    const inputs = [];
    const outpaint = {};
    for (const [key, value] of new FormData(form()).entries()) {
      if (key === "csrfmiddlewaretoken" || value === "" || value instanceof File) continue;
      if (key === "input_images") inputs.push(Number(value));
      else if (key.startsWith("outpaint_")) outpaint[key.slice(9)] = value;
      else data[key] = value;
    }
    for (const key of NUMBERS) if (key in data) data[key] = Number(data[key]);
    for (const key of FLOATS) if (key in data) data[key] = Number(data[key]);
    if (inputs.length) data.input_images = inputs;
    if (data.operation === "outpaint") {
      data.outpaint = outpaint.mode === "margins"
        ? Object.fromEntries(SIDES.map((side) => [side, Number(outpaint[side] || 0)]))
        : { aspect_ratio: outpaint.ratio || "" };
    } else {
      delete data.outpaint;
    }
    return data;
  }

  const VARIATION_GROUP = /\{[^{}]*\|[^{}]*\}/;
  let previewSerial = 0;
  async function updateVariationPreview() {
    const box = $("#variation-preview");
    if (!box || !form()) return;
    const data = submission();
    // Only a prompt with {a|b} variations has anything to preview (the budget notice already
    // prices a plain one): no request for an empty prompt or one without a group, and none
    // of the 400s a half-filled form would answer.
    if (!data.prompt || !VARIATION_GROUP.test(data.prompt)) {
      previewSerial++; // an answer still on its way is out of date
      box.hidden = true;
      delete box.dataset.count;
      return;
    }
    const serial = ++previewSerial;
    const result = await request("POST", box.dataset.url, data);
    if (serial !== previewSerial) return; // a newer preview is on its way
    box.classList.remove("error");
    if (!result.ok) {
      const promptError = result.data && result.data.prompt;
      box.hidden = !promptError;
      if (promptError) {
        box.textContent = promptError.join(" ");
        box.classList.add("error");
      }
      return;
    }
    const count = result.data.count;
    const parts = [];
    if (count > 1) parts.push(count + " generations, one per variation");
    if (result.data.estimate_usd !== null && Number(result.data.estimate_usd) > 0) {
      parts.push("estimated $" + Number(result.data.estimate_usd).toFixed(3) +
                 (count > 1 ? " in all" : ""));
    }
    box.dataset.count = String(count);
    box.textContent = parts.join(" · ");
    box.hidden = parts.length === 0;
  }
  const schedulePreview = debounce(updateVariationPreview, 250);

  /* --- Enhancement: show the suggestion, replace only when accepted -------------------- */

  async function enhance(button) {
    const text = promptBox().value.trim();
    const errorBox = $("#enhance-error");
    const resultBox = $("#enhance-result");
    errorBox.hidden = true;
    if (!text) {
      errorBox.textContent = "Write a prompt first.";
      errorBox.hidden = false;
      return;
    }
    const payload = { prompt: text };
    if ($("#id_style") && $("#id_style").value) payload.style = Number($("#id_style").value);
    button.disabled = true;
    button.textContent = "Enhancing…";
    const result = await request("POST", button.dataset.url, payload);
    button.disabled = false;
    button.textContent = "Enhance";
    if (!result.ok) {
      errorBox.textContent = errorText(result.data);
      errorBox.hidden = false;
      return;
    }
    let source = result.data.model;
    if (result.data.cost_usd !== null) source += " ($" + Number(result.data.cost_usd).toFixed(5) + ")";
    $("[data-enhance-model]", resultBox).textContent = source;
    $("[data-enhance-text]", resultBox).textContent = result.data.prompt;
    resultBox.hidden = false;
    $("#enhance-accept").focus();
  }

  function acceptEnhanced() {
    const resultBox = $("#enhance-result");
    promptBox().value = $("[data-enhance-text]", resultBox).textContent;
    resultBox.hidden = true;
    promptBox().focus();
    promptChanged(false);
  }

  /* --- History autocomplete ------------------------------------------------------------ */

  let activeIndex = -1;
  let historySerial = 0;
  const suggestions = () => $("#history-suggestions");
  const suggestionsOpen = () => suggestions() && !suggestions().hidden;

  function closeSuggestions() {
    const list = suggestions();
    if (list) list.hidden = true;
    activeIndex = -1;
  }

  function markActive(index) {
    const items = suggestions().querySelectorAll("li");
    activeIndex = Math.max(-1, Math.min(index, items.length - 1));
    items.forEach((item, i) => item.setAttribute("aria-selected", String(i === activeIndex)));
    if (activeIndex >= 0) items[activeIndex].scrollIntoView({ block: "nearest" });
  }

  async function loadHistory() {
    const list = suggestions();
    if (!list) return;
    const query = promptBox().value.trim();
    const serial = ++historySerial;
    // POST: what the person types stays out of URLs and access logs.
    const result = await request("POST", list.dataset.url, {q: query, limit: 8});
    if (serial !== historySerial || !result.ok) return;
    const entries = result.data.results.filter((entry) => entry.prompt !== query);
    list.textContent = "";
    for (const entry of entries) {
      const item = document.createElement("li");
      item.setAttribute("role", "option");
      item.dataset.prompt = entry.prompt;
      item.dataset.negative = entry.negative_prompt;
      item.dataset.id = entry.id;
      const text = document.createElement("span");
      text.className = "text";
      text.textContent = entry.prompt;
      text.title = entry.negative_prompt ? entry.prompt + "\nNegative: " + entry.negative_prompt
                                          : entry.prompt;
      const count = document.createElement("span");
      count.className = "count";
      count.textContent = "×" + entry.count;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "remove";
      remove.textContent = "×";
      remove.setAttribute("aria-label", "Remove from history");
      remove.title = "Remove from history";
      item.append(text, count, remove);
      list.append(item);
    }
    list.hidden = entries.length === 0;
    activeIndex = -1;
  }
  const scheduleHistory = debounce(loadHistory, 200);

  function pickSuggestion(item) {
    promptBox().value = item.dataset.prompt;
    const negative = $("#id_negative_prompt");
    if (negative) negative.value = item.dataset.negative || "";
    closeSuggestions();
    promptBox().focus();
    promptChanged(false);
  }

  async function removeSuggestion(item) {
    const list = suggestions();
    const result = await request("DELETE", urlFor(list.dataset.entryUrl, item.dataset.id));
    if (result.ok || result.status === 404) item.remove();
    if (!list.querySelector("li")) closeSuggestions();
  }

  /* --- Keyboard shortcuts and help ----------------------------------------------------- */

  let focusBeforeHelp = null;
  function openHelp() {
    const help = $("#shortcut-help");
    if (!help) return;
    focusBeforeHelp = document.activeElement;
    help.hidden = false;
    $("[data-close-help]", help).focus();
  }
  function closeHelp() {
    const help = $("#shortcut-help");
    help.hidden = true;
    if (focusBeforeHelp && focusBeforeHelp.focus) focusBeforeHelp.focus();
  }
  const helpOpen = () => $("#shortcut-help") && !$("#shortcut-help").hidden;

  function isTyping(element) {
    return element && (element.isContentEditable ||
                       /^(INPUT|TEXTAREA|SELECT)$/.test(element.tagName));
  }

  // Esc cancels the newest generation still in flight (the first Cancel in the feed).
  function cancelRunning() {
    const button = $("#feed .gen-card[data-finished=false] .gen-cancel:not([disabled])");
    if (button) button.click();
    return Boolean(button);
  }

  document.addEventListener("keydown", function (event) {
    if (!form()) return;
    const target = event.target;
    if (target === promptBox() && suggestionsOpen()) {
      const count = suggestions().querySelectorAll("li").length;
      if (event.key === "ArrowDown") { event.preventDefault(); markActive((activeIndex + 1) % count); return; }
      if (event.key === "ArrowUp") { event.preventDefault(); markActive(activeIndex <= 0 ? count - 1 : activeIndex - 1); return; }
      if (event.key === "Enter" && !event.ctrlKey && !event.metaKey && activeIndex >= 0) {
        event.preventDefault();
        pickSuggestion(suggestions().querySelectorAll("li")[activeIndex]);
        return;
      }
    } else if (target === promptBox() && event.key === "ArrowDown" && !event.altKey &&
               promptBox().selectionStart === promptBox().value.length) {
      loadHistory(); // ↓ at the end of the prompt opens the history
    }
    // The user's "keyboard shortcuts" preference (Settings) turns off everything below.
    if (document.body.dataset.shortcuts === "off") return;
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      event.preventDefault();
      closeSuggestions();
      if (!helpOpen()) form().requestSubmit();
      return;
    }
    if (event.key === "Escape") {
      if (helpOpen()) { event.preventDefault(); closeHelp(); return; }
      if (suggestionsOpen()) { event.preventDefault(); closeSuggestions(); return; }
      const resultBox = $("#enhance-result");
      if (resultBox && !resultBox.hidden) { resultBox.hidden = true; return; }
      if (cancelRunning()) event.preventDefault();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || isTyping(target)) return;
    if (event.key === "/") {
      event.preventDefault();
      promptBox().focus();
    } else if (event.key === "?") {
      event.preventDefault();
      openHelp();
    }
  });

  /* --- Wiring ---------------------------------------------------------------------------- */

  function promptChanged(withHistory) {
    updateStylePreview();
    schedulePreview();
    if (withHistory) {
      if (promptBox().value.trim().length >= 2) scheduleHistory();
      else closeSuggestions();
    }
  }

  document.addEventListener("input", function (event) {
    if (!form() || !form().contains(event.target)) return;
    if (event.target === promptBox()) promptChanged(true);
    else { updateStylePreview(); schedulePreview(); }
  });

  document.addEventListener("change", function (event) {
    if (!form() || !form().contains(event.target)) return;
    updateStylePreview();
    schedulePreview();
  });

  document.addEventListener("click", function (event) {
    const target = event.target;
    if (target.closest("#enhance-button")) enhance(target.closest("#enhance-button"));
    else if (target.closest("#enhance-accept")) acceptEnhanced();
    else if (target.closest("#enhance-dismiss")) $("#enhance-result").hidden = true;
    else if (target.closest("[data-shortcut-help]")) openHelp();
    else if (target.closest("[data-close-help]") || target.id === "shortcut-help") closeHelp();
    else if (target.closest("#history-suggestions .remove")) {
      removeSuggestion(target.closest("li"));
    } else if (target.closest("#history-suggestions li")) {
      pickSuggestion(target.closest("li"));
    } else if (!target.closest(".prompt-box")) closeSuggestions();
  });

  // Keep the prompt focused while a suggestion is clicked.
  document.addEventListener("mousedown", function (event) {
    if (event.target.closest("#history-suggestions")) event.preventDefault();
  });

  function refresh() {
    updateStylePreview();
    updateVariationPreview();
  }
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "generate-area") refresh();
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", refresh);
  else refresh();
})();

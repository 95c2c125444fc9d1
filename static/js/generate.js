// Generate page helpers: size chips fill width and height.
document.addEventListener("click", (event) => {
  const chip = event.target.closest(".size-chip");
  if (!chip) return;
  const form = chip.closest("form");
  form.querySelector("[name=width]").value = chip.dataset.width;
  form.querySelector("[name=height]").value = chip.dataset.height;
});

// When the model changes, fit steps and CFG to it: a field the model does not take is
// disabled, and a value outside its range is cleared (the model's default then applies).
function fitField(input, range, fallback) {
  if (!input) return;
  if (!range) {
    input.value = "";
    input.disabled = true;
    input.placeholder = "not used by this model";
    return;
  }
  const [low, high] = range.split(",").map(Number);
  input.disabled = false;
  input.placeholder = fallback ? `model default (${fallback})` : "model default";
  const value = Number(input.value);
  if (input.value !== "" && (value < low || value > high)) input.value = "";
}

document.addEventListener("htmx:afterSwap", (event) => {
  const info = event.detail.target.querySelector?.(".model-info");
  if (!info) return;
  const form = info.closest("form");
  fitField(form.querySelector("[name=steps]"), info.dataset.steps, info.dataset.defaultSteps);
  fitField(form.querySelector("[name=cfg_scale]"), info.dataset.cfg, info.dataset.defaultCfg);
});

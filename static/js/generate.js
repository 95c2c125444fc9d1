// Generate page helpers: size chips fill width and height.
document.addEventListener("click", (event) => {
  const chip = event.target.closest(".size-chip");
  if (!chip) return;
  const form = chip.closest("form");
  form.querySelector("[name=width]").value = chip.dataset.width;
  form.querySelector("[name=height]").value = chip.dataset.height;
});

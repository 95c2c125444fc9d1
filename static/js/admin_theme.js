// The admin in the studio's theme (templates/admin/base_site.html): the user's preference,
// rendered on this script's data-theme, becomes the admin's data-theme on <html> ("system"
// is the admin's "auto", which follows prefers-color-scheme). Runs in <head>, before paint.
(function () {
  "use strict";
  const wanted = document.currentScript && document.currentScript.dataset.theme;
  const theme = wanted === "light" || wanted === "dark" ? wanted : "auto";
  document.documentElement.dataset.theme = theme;
})();

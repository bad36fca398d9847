// onewindow: small progressive enhancements. Pages work without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Confirm destructive admin actions.
  for (const f of document.querySelectorAll("form[data-confirm]")) {
    f.addEventListener("submit", (e) => {
      if (!window.confirm(f.dataset.confirm)) e.preventDefault();
    });
  }
});

// docket's request page: the checklist at the top (docket.forms.checklist) jumps to its sections.
// Each entry carries data-section (the section's id: .docket-section-<id>) and data-box (the CSS
// class of the box of its first problem, e.g. docket-box-provider-email). A click scrolls there
// and puts the focus in the first input of that box (or of the section); the page's own focus
// handling of data-path lists may act too, on the same field.
(function () {
  "use strict";
  function boxFor(name) {
    // The problem's own box, else the nearest enclosing one (a title's language is inside it).
    var parts = name ? name.split("-") : [];
    while (parts.length > 2) {
      var found = document.querySelector("." + parts.join("-").replace(/[^A-Za-z0-9_-]/g, "_"));
      if (found) { return found; }
      parts.pop();
    }
    return null;
  }
  document.addEventListener("click", function (event) {
    var item = event.target.closest && event.target.closest(".docket-checklist [data-section]");
    if (!item) { return; }
    event.preventDefault();
    var section = document.querySelector(".docket-section-" + item.getAttribute("data-section"));
    var box = boxFor(item.getAttribute("data-box")) || section;
    if (!box) { return; }
    box.scrollIntoView({ block: "center" });
    var input = box.querySelector("input:not([type=hidden]), textarea, select, button");
    if (input) { input.focus({ preventScroll: true }); }
  });
})();

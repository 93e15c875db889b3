// The refused-submit list: clicking a problem (or Enter on it) moves the focus to its field.
// Loaded by every page docket serves (server_guard.PageHandler.body_prefix), from this server.
// DOM contract (renderer.FormView._show_problems): each <li data-path="$.json.path"> of
// ul.docket-problems may carry data-field="docket-field-<css name>", the class of the field's
// input; without it the class is derived from data-path. The field's box (docket-box-<css name>)
// is the fallback when the input itself carries no class (a group, a plug-in widget).
(function () {
  "use strict";
  var FOCUSABLE = "input:not([type=hidden]), textarea, select, button, [tabindex]";

  function cssName(path) {
    // "$.files[1].name" -> "files-1-name", as renderer.css_name does.
    var parts = [];
    var re = /\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]/g;
    var m;
    while ((m = re.exec(path)) !== null) {
      var part = m[1] !== undefined ? m[1] : (m[2] !== undefined ? m[2] : m[3]);
      parts.push(part.replace(/[^A-Za-z0-9_-]/g, "_"));
    }
    return parts;
  }

  function target(item) {
    var names = [];
    if (item.dataset.field) names.push(item.dataset.field.replace(/^docket-field-/, ""));
    var parts = cssName(item.dataset.path || "");
    for (var n = parts.length; n > 0; n--) names.push(parts.slice(0, n).join("-"));
    for (var i = 0; i < names.length; i++) {
      var el = document.querySelector(".docket-field-" + CSS.escape(names[i])) ||
               document.querySelector(".docket-box-" + CSS.escape(names[i]));
      if (!el) continue;
      if (el.matches(FOCUSABLE)) return el;
      var inner = el.querySelector(FOCUSABLE);
      if (inner) return inner;
    }
    return null;
  }

  function go(event) {
    var item = event.target.closest && event.target.closest(".docket-problems li[data-path]");
    if (!item) return;
    if (event.type === "keydown" && event.key !== "Enter" && event.key !== " ") return;
    var el = target(item);
    if (!el) return;
    event.preventDefault();
    el.scrollIntoView({ block: "center" });
    el.focus({ preventScroll: true });
  }

  document.addEventListener("click", go);
  document.addEventListener("keydown", go);
})();

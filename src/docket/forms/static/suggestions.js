// docket's pick lists (licence, keywords, units, formats) in the browser: a suggestion list under
// the input that matches anywhere in a value, ignoring case and accents, that a person can click or
// walk with the arrow keys. The values come from the ipywidgets Combobox's own <datalist> (sent by
// the kernel: docket.forms.vocab_fields); the browser's native datalist popup is turned off for
// these inputs so only one list shows. Picking a value sets the input and fires "change", which is
// what the widget sends to the kernel. Any other text stays possible: the list only suggests.
(function () {
  "use strict";
  var INPUTS = ".docket-keyword-search input, .docket-licence input, .docket-unit input, .docket-suggest input";
  var MAX_SHOWN = 15;
  var list = null;     // the <ul> shown, for the one input that has the focus
  var owner = null;    // that input
  var active = -1;     // the highlighted item
  var counter = 0;

  function fold(text) {
    return String(text).normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  function datalistOf(input) {
    var id = input.getAttribute("list");
    if (id) {                       // take the list over from the browser's own popup
      input.dataset.docketList = id;
      input.removeAttribute("list");
    }
    var found = input.dataset.docketList && document.getElementById(input.dataset.docketList);
    return found || (input.parentElement && input.parentElement.querySelector("datalist"));
  }

  function matches(input) {
    var data = datalistOf(input);
    if (!data) { return []; }
    var words = fold(input.value).split(/\s+/).filter(Boolean);
    var first = [], rest = [];
    for (var i = 0; i < data.options.length; i++) {
      var value = data.options[i].value, folded = fold(value);
      if (words.every(function (w) { return folded.indexOf(w) >= 0; })) {
        (words.length && folded.indexOf(words[0]) === 0 ? first : rest).push(value);
        if (first.length >= MAX_SHOWN) { break; }
      }
    }
    return first.concat(rest).slice(0, MAX_SHOWN);
  }

  function close() {
    if (list) { list.remove(); }
    if (owner) { owner.setAttribute("aria-expanded", "false"); owner.removeAttribute("aria-activedescendant"); }
    list = null; owner = null; active = -1;
  }

  function pick(input, value) {
    input.value = value;
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.dispatchEvent(new Event("change", { bubbles: true }));
    close();
  }

  function highlight(index) {
    if (!list) { return; }
    var items = list.querySelectorAll("li");
    active = Math.max(-1, Math.min(index, items.length - 1));
    items.forEach(function (li, i) { li.classList.toggle("docket-suggestion-active", i === active); });
    if (active >= 0) {
      owner.setAttribute("aria-activedescendant", items[active].id);
      items[active].scrollIntoView({ block: "nearest" });
    }
  }

  function open(input) {
    var values = matches(input);
    if (!values.length) { close(); return; }
    if (!list || owner !== input) {
      close();
      list = document.createElement("ul");
      list.className = "docket-suggestions";
      list.id = "docket-suggestions-" + (++counter);
      list.setAttribute("role", "listbox");
      document.body.appendChild(list);
      owner = input;
      input.setAttribute("role", "combobox");
      input.setAttribute("aria-autocomplete", "list");
      input.setAttribute("aria-controls", list.id);
      input.setAttribute("aria-expanded", "true");
    }
    list.textContent = "";
    values.forEach(function (value, i) {
      var li = document.createElement("li");
      li.textContent = value;
      li.id = list.id + "-" + i;
      li.setAttribute("role", "option");
      li.addEventListener("mousedown", function (e) { e.preventDefault(); pick(input, value); });
      list.appendChild(li);
    });
    var box = input.getBoundingClientRect();
    list.style.left = box.left + "px";
    list.style.top = box.bottom + "px";
    list.style.minWidth = Math.min(box.width, 480) + "px";
    active = -1;
  }

  function style() {
    var css = document.createElement("style");
    css.textContent =
      ".docket-suggestions { position: fixed; z-index: 10000; margin: 0; padding: 2px 0; list-style: none;" +
      " background: #fff; border: 1px solid #8c959f; box-shadow: 0 4px 12px rgba(0,0,0,.15);" +
      " max-height: 18em; overflow-y: auto; font: 13px system-ui, sans-serif; }" +
      ".docket-suggestions li { padding: 3px 10px; cursor: pointer; white-space: nowrap; }" +
      ".docket-suggestions li:hover, .docket-suggestions li.docket-suggestion-active { background: #ddf4ff; }";
    document.head.appendChild(css);
  }

  document.addEventListener("focusin", function (e) {
    if (e.target.matches && e.target.matches(INPUTS)) { datalistOf(e.target); open(e.target); }
  });
  document.addEventListener("input", function (e) {
    if (e.target.matches && e.target.matches(INPUTS) && e.isTrusted) { open(e.target); }
  });
  document.addEventListener("focusout", function (e) {
    if (e.target === owner) { close(); }
  });
  document.addEventListener("keydown", function (e) {
    if (!list || e.target !== owner) { return; }
    if (e.key === "ArrowDown") { e.preventDefault(); highlight(active + 1); }
    else if (e.key === "ArrowUp") { e.preventDefault(); highlight(active - 1); }
    else if (e.key === "Escape") { close(); }
    else if (e.key === "Enter" && active >= 0) {
      e.preventDefault();
      pick(owner, list.querySelectorAll("li")[active].textContent);
    }
  }, true);
  // The keyword search box only adds: what is picked or entered there reaches the kernel by the
  // change event the widget has just handled (the widget's listener sits below the document), and
  // the box empties here, at once, telling the kernel too. Emptied by the kernel's answer instead,
  // it was wiped while the provider went on typing: the first letters of the next keyword were lost.
  document.addEventListener("change", function (e) {
    var input = e.target;
    if (input.matches && input.matches(".docket-keyword-search input") && input.value !== "") {
      input.value = "";
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });
  window.addEventListener("scroll", function (e) { if (owner && e.target !== list) { open(owner); } }, true);
  window.addEventListener("resize", close);
  if (document.head) { style(); } else { document.addEventListener("DOMContentLoaded", style); }
})();

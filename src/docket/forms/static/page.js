// docket's request page, in the browser: what ipywidgets cannot say by themselves.
// Loaded by every page docket serves (server_guard.PageHandler.body_prefix), from this server.
//
// The renderer (docket/forms/renderer.py) marks the page with CSS classes; this script turns
// them into what browsers and assistive technology read, and keeps doing so as the widgets
// re-render (a language switch, a new error, an added row): a MutationObserver re-applies it.
//
//   .docket-title[lang]        -> document.title and <html lang>
//   .docket-field (a box)      -> its .docket-label names its own inputs (aria-labelledby, and
//                                 <label for> when the field has one input);
//                                 .docket-group boxes are role=group named by their label
//   .docket-required           -> aria-required=true on the box's own inputs (and only there;
//                                 .docket-required-one, "one language is enough", marks none)
//   .docket-invalid            -> aria-invalid=true, and aria-describedby the box's error text
//   .docket-help, .docket-error-> aria-describedby of the box's own inputs
//   .docket-problems li[data-path] -> problems.js moves the focus to the problem's input
//   .docket-status             -> aria-live=polite (the refused-submit list is read out)
(function () {
  "use strict";

  var INPUTS = "input, textarea, select";

  // The page title and language: the form's own (Voila's title is the notebook's file name).
  function retitle() {
    var heading = document.querySelector(".docket-title");
    if (!heading) {
      // A page that could not open (a wrong link, an unknown form): its message is its title.
      var error = document.querySelector(".docket-page-error");
      var said = error ? (error.textContent || "").replace(/\s+/g, " ").trim().slice(0, 120) : "";
      if (said && document.title !== said) {
        document.title = said;
      }
      return;
    }
    var text = (heading.textContent || "").trim();
    if (text && document.title !== text) {
      document.title = text;
    }
    var lang = heading.getAttribute("lang");
    if (lang && document.documentElement.lang !== lang) {
      document.documentElement.lang = lang;
    }
  }

  function boxSuffix(box) {
    for (var i = 0; i < box.classList.length; i++) {
      var c = box.classList[i];
      if (c.indexOf("docket-box-") === 0) {
        return c.slice("docket-box-".length);
      }
    }
    return null;
  }

  // The element's id, given one (stable, from the field's path) if it has none.
  function ensureId(el, id) {
    if (!el.id) {
      el.id = id;
    }
    return el.id;
  }

  function setAttr(el, name, value) {
    if (value === null || value === "") {
      if (el.hasAttribute(name)) {
        el.removeAttribute(name);
      }
    } else if (el.getAttribute(name) !== value) {
      el.setAttribute(name, value);
    }
  }

  // The inputs of the box's own input widget (class docket-field-<suffix>), not those of a field
  // nested in it (a group's members) nor a plug-in's extra controls beside it (an upload button).
  function ownInputs(box, suffix) {
    var widget = box.querySelector(".docket-field-" + CSS.escape(suffix));
    if (!widget || widget.closest(".docket-field") !== box) {
      return [];
    }
    var found = widget.matches(INPUTS) ? [widget] : Array.prototype.slice.call(widget.querySelectorAll(INPUTS));
    return found.filter(function (el) {
      return el.closest(".docket-field") === box && el.type !== "button" && el.type !== "hidden" && el.type !== "file";
    });
  }

  // Direct children of the box with a class (the label and the note are the box's children).
  function child(box, cls) {
    for (var i = 0; i < box.children.length; i++) {
      if (box.children[i].classList.contains(cls)) {
        return box.children[i];
      }
    }
    return null;
  }

  function describeField(box) {
    var suffix = boxSuffix(box);
    if (!suffix) {
      return;
    }
    var labelBox = child(box, "docket-label");
    // The label's words without the required mark (that is aria-required's to say).
    var label = labelBox && (labelBox.querySelector(".docket-label-text") ||
                             labelBox.querySelector(".widget-html-content") || labelBox);
    var labelId = label && (label.textContent || "").trim() ? ensureId(label, "docket-label-" + suffix) : null;
    var note = child(box, "docket-note");
    var help = note && note.querySelector(".docket-help");
    var error = note && note.querySelector(".docket-error");
    var helpId = help && (help.textContent || "").trim() ? ensureId(help, "docket-help-" + suffix) : null;
    var errorId = error && (error.textContent || "").trim() ? ensureId(error, "docket-error-" + suffix) : null;
    var required = box.classList.contains("docket-required");
    var invalid = box.classList.contains("docket-invalid");
    if (box.classList.contains("docket-group")) {
      setAttr(box, "role", "group");
      setAttr(box, "aria-labelledby", labelId);
    }
    var inputs = ownInputs(box, suffix);
    // A field with one input: its label is that input's <label for> too (a click on it focuses it).
    if (label && label.tagName === "LABEL" && inputs.length === 1 && inputs[0].id && inputs[0].type !== "checkbox") {
      setAttr(label, "for", inputs[0].id);
    }
    inputs.forEach(function (input) {
      // A name a plug-in widget gave its input itself (aria-label) is kept.
      var named = input.hasAttribute("aria-label") && !input.hasAttribute("data-docket-named");
      if (input.type !== "checkbox" && !input.closest("label") && !named) {
        input.setAttribute("data-docket-named", "");
        // A visible description of the widget itself (a language code of a multilingual field)
        // adds to the field's label: "Title en".
        var own = input.id && box.querySelector("label.widget-label[for='" + CSS.escape(input.id) + "']");
        var ownId = own && own.style.display !== "none" && (own.textContent || "").trim()
          ? ensureId(own, "docket-label-" + suffix + "-" + input.id.slice(0, 8)) : null;
        setAttr(input, "aria-labelledby", [labelId, ownId].filter(Boolean).join(" "));
      }
      setAttr(input, "aria-required", required ? "true" : null);
      setAttr(input, "aria-invalid", invalid ? "true" : null);
      setAttr(input, "aria-describedby", [invalid ? errorId : null, helpId].filter(Boolean).join(" "));
    });
  }

  // "Remove" alone says nothing in a list of rows: "Remove Author 2".
  function nameRemoveButtons() {
    document.querySelectorAll(".docket-remove").forEach(function (button) {
      var row = button.closest(".docket-field");
      var labelBox = row && child(row, "docket-label");
      var rowName = labelBox ? (labelBox.textContent || "").trim() : "";
      var text = (button.textContent || "").trim();
      setAttr(button, "aria-label", rowName && text ? text + " " + rowName : null);
    });
  }

  function problemItems() {
    var page = document.querySelector(".docket-page");
    if (page) {
      setAttr(page, "role", "main");  // the page's main content (a landmark to jump to)
    }
    document.querySelectorAll(".docket-status").forEach(function (status) {
      setAttr(status, "aria-live", "polite");
    });
  }

  function apply() {
    pending = false;
    retitle();
    document.querySelectorAll(".docket-field").forEach(describeField);
    nameRemoveButtons();
    problemItems();
  }

  // Widgets re-render often (each keystroke's validation): coalesce into one pass.
  var pending = false;
  function schedule() {
    if (!pending) {
      pending = true;
      setTimeout(apply, 20);
    }
  }
  new MutationObserver(schedule).observe(document.documentElement, {
    childList: true, subtree: true, characterData: true, attributes: true, attributeFilter: ["class"],
  });
  schedule();
})();

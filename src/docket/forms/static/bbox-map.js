// The spatial coverage map's own words in the page language (docket/forms/bbox_map.py), and its
// moves to a typed box without animation (see patch()).
// Loaded by every page docket serves, from this server.
//
// The map's rectangle tool is Leaflet.draw (inside jupyter-leaflet), whose button title and
// drawing tooltips are English and global (L.drawLocal). This script gives them the page's
// language, <html lang> (page.js keeps it in step with the language selector):
//   * the tool's button title and its "Cancel" action, whenever they appear or the language changes;
//   * the tooltips while drawing: L.Draw.Rectangle reads its texts when it is created, so its
//     addHooks (run each time the tool is switched on) is wrapped to read them again first.
(function () {
  "use strict";

  var WORDS = {
    en: {button: "Draw the area as a rectangle", start: "Press and drag to draw the area.",
         end: "Release the mouse to finish.", cancel: "Cancel", cancelTitle: "Cancel drawing"},
    fr: {button: "Tracer la zone (rectangle)", start: "Appuyez et faites glisser pour tracer la zone.",
         end: "Relâchez la souris pour terminer.", cancel: "Annuler", cancelTitle: "Annuler le tracé"},
    de: {button: "Gebiet als Rechteck zeichnen", start: "Drücken und ziehen, um das Gebiet zu zeichnen.",
         end: "Maustaste loslassen, um abzuschließen.", cancel: "Abbrechen", cancelTitle: "Zeichnen abbrechen"}
  };

  function words() {
    var lang = (document.documentElement.lang || "en").slice(0, 2);
    return WORDS[lang] || WORDS.en;
  }

  function relabel() {
    var w = words();
    document.querySelectorAll(".docket-bbox-map .leaflet-draw-draw-rectangle").forEach(function (a) {
      if (a.title !== w.button) {
        a.title = w.button;
        a.setAttribute("aria-label", w.button);
      }
    });
    document.querySelectorAll(".docket-bbox-map .leaflet-draw-actions a").forEach(function (a) {
      if (a.textContent !== w.cancel) {
        a.textContent = w.cancel;
        a.title = w.cancelTitle;
      }
    });
  }

  // Leaflet (and Leaflet.draw) arrive with jupyter-leaflet's code, when the first map is made.
  var patched = false;
  function patch() {
    var L = window.L;
    if (patched || !L || !L.Draw || !L.Draw.Rectangle) {
      return patched;
    }
    // jupyter-leaflet moves the map to a centre set from Python with an animated panTo. When the
    // animation ends, its moveend writes the centre reached back to the kernel; if the person's
    // next edit set a new centre meanwhile, ipywidgets' echo of that write arrives after the new
    // centre and pans the map back to the previous box, where it stays (seen in a form test on a
    // loaded machine: three quick edits, the map left 2.5 degrees short). A docket map jumps to
    // the new centre instead: the move then ends inside jupyter-leaflet's own update, which
    // writes nothing back. Pans by the person (dragging the map) are not panTo and keep their
    // animation.
    var panTo = L.Map.prototype.panTo;
    L.Map.prototype.panTo = function (center, options) {
      var box = this._container && this._container.closest && this._container.closest(".docket-bbox-map");
      return panTo.call(this, center, box ? L.Util.extend({}, options, {animate: false}) : options);
    };
    var proto = L.Draw.Rectangle.prototype;
    var addHooks = proto.addHooks;
    proto.addHooks = function () {
      var w = words();
      this._initialLabelText = w.start;
      this._endLabelText = w.end;
      return addHooks.apply(this, arguments);
    };
    patched = true;
    return true;
  }

  var tries = 0;
  var timer = setInterval(function () {
    if (patch() || ++tries > 600) {  // 600 x 100 ms: a page without a map stops asking
      clearInterval(timer);
    }
  }, 100);

  var pending = false;
  function soon() {
    if (!pending) {
      pending = true;
      window.requestAnimationFrame(function () {
        pending = false;
        patch();
        relabel();
      });
    }
  }
  function start() {
    new MutationObserver(soon).observe(document.body, {childList: true, subtree: true});
    new MutationObserver(soon).observe(document.documentElement, {attributes: true, attributeFilter: ["lang"]});
    soon();
  }
  if (document.body) {
    start();
  } else {
    document.addEventListener("DOMContentLoaded", start);
  }
})();

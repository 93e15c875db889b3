// docket's request page: keep the provider's way back to their draft in this browser tab.
// Loaded by every page docket serves (server_guard.PageHandler.body_prefix), from this server.
//
// The first save of a new form (Save draft, or Submit for review) returns the provider's secret
// link; the kernel (docket/forms/page.py, RequestPage.store) writes it once into a hidden
// element, .docket-draft-link [data-docket-link]. This script then
//   * puts it in the address (?link=..., history.replaceState, no reload), so a reload opens the
//     stored request instead of an empty form, and
//   * keeps it in this tab's sessionStorage, so coming back to the form's plain address in this
//     tab offers to return to the draft (or to start a new form, which forgets it).
// A page opened with ?link=... that shows the form (the link was accepted) is remembered too; one
// that shows an error (a wrong, expired or revoked link) is forgotten.
//
// The link is a secret: it is kept nowhere else (sessionStorage, not localStorage: it goes when
// the tab is closed, so a shared computer does not keep it), never logged, never sent anywhere by
// this script. The page is served with Referrer-Policy: same-origin, so the address that now holds
// it is not sent to other sites; docket's access log leaves query strings out.
(function () {
  "use strict";

  var SHAPE = /^dl_[0-9a-f]{12}_[A-Za-z0-9_-]{32}$/;
  var KEY = "docket-draft-link:" + location.pathname;
  // (a draft, or a request already sent: the link opens either, so the words say "request")
  var WORDS = {
    en: { offer: "This browser tab remembers your saved request.", back: "Return to it",
          fresh: "Start a new form" },
    fr: { offer: "Cet onglet se souvient de votre demande enregistrée.", back: "Y revenir",
          fresh: "Commencer un nouveau formulaire" },
    de: { offer: "Dieser Browser-Tab merkt sich Ihren gespeicherten Antrag.", back: "Dorthin zurück",
          fresh: "Neues Formular beginnen" }
  };

  function storage() {
    try {
      return window.sessionStorage;
    } catch (e) {
      return null; // storage disabled: the address still carries the link
    }
  }

  function stored() {
    var s = storage();
    var value = s ? s.getItem(KEY) : null;
    return value && SHAPE.test(value) ? value : null;
  }

  function keep(link) {
    var s = storage();
    if (s && s.getItem(KEY) !== link) {
      s.setItem(KEY, link);
    }
  }

  function forget(link) {
    var s = storage();
    if (s && (!link || s.getItem(KEY) === link)) {
      s.removeItem(KEY);
    }
  }

  function addressWith(link) {
    var params = new URLSearchParams(location.search);
    params.set("link", link);
    return location.pathname + "?" + params.toString() + location.hash;
  }

  // The kernel's hidden element: the link of the request the first save made.
  var handed = null;
  function takeLink() {
    var holder = document.querySelector(".docket-draft-link [data-docket-link]");
    var link = holder ? holder.getAttribute("data-docket-link") : null;
    if (!link || link === handed || !SHAPE.test(link)) {
      return;
    }
    handed = link;
    keep(link);
    if (new URLSearchParams(location.search).get("link") !== link) {
      history.replaceState(history.state, "", addressWith(link));
    }
  }

  // Opened with ?link=: remember it once the form shows, forget it if the page refused it.
  var opened = new URLSearchParams(location.search).get("link");
  var settled = !opened;
  function settle() {
    if (settled) {
      return;
    }
    if (document.querySelector(".docket-page-error")) {
      forget(opened);
      settled = true;
    } else if (document.querySelector(".docket-form")) {
      if (SHAPE.test(opened)) {
        keep(opened);
      }
      settled = true;
    }
  }

  function language() {
    var lang = new URLSearchParams(location.search).get("lang") || document.documentElement.lang || "en";
    return WORDS[lang.slice(0, 2)] ? lang.slice(0, 2) : "en";
  }

  // Opened without ?link= while this tab holds a draft's link: offer the way back.
  function offer(link) {
    var words = WORDS[language()];
    var bar = document.createElement("div");
    bar.className = "docket-draft-offer";
    bar.setAttribute("role", "region");
    bar.setAttribute("aria-label", words.offer);
    bar.style.cssText = "padding:10px 14px;margin:8px;border:1px solid #0969da;background:#ddf4ff;" +
      "font-family:system-ui,sans-serif;max-width:960px;";
    var text = document.createElement("span");
    text.textContent = words.offer + " ";
    var back = document.createElement("button");
    back.type = "button";
    back.className = "docket-draft-return";
    back.textContent = words.back;
    back.addEventListener("click", function () {
      location.assign(addressWith(link));
    });
    var fresh = document.createElement("button");
    fresh.type = "button";
    fresh.className = "docket-draft-forget";
    fresh.textContent = words.fresh;
    fresh.style.marginLeft = "8px";
    fresh.addEventListener("click", function () {
      forget(link);
      bar.remove();
    });
    bar.appendChild(text);
    bar.appendChild(back);
    bar.appendChild(fresh);
    document.body.insertBefore(bar, document.body.firstChild);
  }

  function start() {
    var link = opened ? null : stored();
    if (link) {
      offer(link);
    }
    // Called once per batch of changes (a microtask), so a link written and soon replaced is
    // still seen; two selector look-ups are cheap next to the widgets' own rendering.
    var observer = new MutationObserver(function () {
      settle();
      takeLink();
    });
    observer.observe(document.body, { childList: true, subtree: true, attributes: true,
                                       attributeFilter: ["data-docket-link"] });
    settle();
    takeLink();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

// docket's request page, in the browser: what ipywidgets cannot say by themselves.
// Loaded by every page docket serves (server_guard.PageHandler.body_prefix), from this server.
(function () {
  "use strict";
  // The page title: the form's own title (Voila's is the notebook's file name).
  function retitle() {
    var heading = document.querySelector(".docket-title");
    if (heading && heading.textContent && document.title !== heading.textContent) {
      document.title = heading.textContent;
    }
  }
  new MutationObserver(retitle).observe(document.documentElement, { childList: true, subtree: true, characterData: true });
})();

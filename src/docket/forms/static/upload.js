// docket's file uploads, in the browser: each file row's "Upload a file" button, a progress bar,
// and a resumable, chunked upload to this server's tus endpoint (/docket/uploads/, tus 1.0).
//
// Why this shape: a provider's file may be gigabytes and their connection may drop. The file goes
// in PATCHes of CHUNK bytes; when one fails, the script asks the server (HEAD) how much arrived
// and goes on from there. Unfinished uploads are remembered in localStorage (keyed by the file's
// name, size and modification time), so choosing the same file again after a reload resumes where
// it stopped. When the upload is complete, its id goes into the row's hidden input
// (.docket-upload-token, an ipywidgets Text) with a "change" event: the kernel checks it against
// the server's upload store and fills the row (docket.forms.upload_field).
(function () {
  "use strict";
  var CHUNK = window.DOCKET_UPLOAD_CHUNK || 8 * 1024 * 1024; // bytes per PATCH
  var RETRIES = 30; // failed PATCHes in a row before giving up (the file can be chosen again)
  var ENDPOINT = new URL("docket/uploads/", location.origin + location.pathname).pathname;
  var TUS = { "Tus-Resumable": "1.0.0" };
  var STYLE = ".docket-upload{display:flex;align-items:center;gap:.6em;margin:3px 0;flex-wrap:wrap}" +
    ".docket-upload progress{width:18em;height:1em}.docket-upload-status{font-size:.9em;color:#57606a}" +
    ".docket-upload[data-state=failed] .docket-upload-status{color:#b3261e}" +
    ".docket-upload[data-state=done] .docket-upload-status{color:#1a7f37}";

  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  function base64(text) { // UTF-8, as tus metadata wants it
    var bytes = new TextEncoder().encode(text), s = "";
    for (var i = 0; i < bytes.length; i++) { s += String.fromCharCode(bytes[i]); }
    return btoa(s);
  }

  function remembered(file) {
    return "docket-upload:" + file.name + ":" + file.size + ":" + file.lastModified;
  }

  // localStorage may be refused (privacy settings): uploads still work, they only cannot resume after a reload.
  var memory = {
    get: function (k) { try { return localStorage.getItem(k); } catch (e) { return null; } },
    set: function (k, v) { try { localStorage.setItem(k, v); } catch (e) { /* not remembered */ } },
    forget: function (k) { try { localStorage.removeItem(k); } catch (e) { /* nothing to forget */ } },
  };

  function Failure(status, text) { this.status = status; this.text = text; }

  async function answer(response) {
    var text = "";
    try { text = (await response.text()).trim(); } catch (e) { /* no body */ }
    return new Failure(response.status, text || ("HTTP " + response.status));
  }

  async function create(file) {
    var headers = Object.assign({ "Upload-Length": String(file.size), "Upload-Metadata": "filename " + base64(file.name) }, TUS);
    var response = await fetch(ENDPOINT, { method: "POST", headers: headers, credentials: "same-origin" });
    if (response.status !== 201) { throw await answer(response); }
    return response.headers.get("Location");
  }

  // Bytes the server holds of an upload; null when it does not know the upload (any more).
  async function offsetOf(url) {
    var response = await fetch(url, { method: "HEAD", headers: TUS, credentials: "same-origin", cache: "no-store" });
    if (response.status === 404) { return null; }
    if (response.status !== 200) { throw new Failure(response.status, "HTTP " + response.status); }
    return parseInt(response.headers.get("Upload-Offset"), 10);
  }

  function patch(url, blob, offset, progress) { // XMLHttpRequest: fetch cannot report upload progress
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open("PATCH", url);
      xhr.setRequestHeader("Tus-Resumable", "1.0.0");
      xhr.setRequestHeader("Upload-Offset", String(offset));
      xhr.setRequestHeader("Content-Type", "application/offset+octet-stream");
      xhr.upload.onprogress = function (e) { progress(offset + e.loaded); };
      xhr.onload = function () {
        if (xhr.status === 204) { resolve(parseInt(xhr.getResponseHeader("Upload-Offset"), 10)); }
        else { reject(new Failure(xhr.status, (xhr.responseText || "").trim() || ("HTTP " + xhr.status))); }
      };
      xhr.onerror = xhr.onabort = xhr.ontimeout = function () { reject(new Failure(0, "connection lost")); };
      xhr.send(blob);
    });
  }

  function hand_over(token, url) { // the upload id into the hidden ipywidgets input, as typing would
    var input = token.querySelector("input");
    if (!input) { return; }
    input.value = url.split("/").pop();
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.dispatchEvent(new Event("change", { bubbles: true }));
  }

  async function send(file, token, ui) {
    var key = remembered(file), url = null, offset = 0, failures = 0;
    ui.set("uploading", 0, file.size, "");
    try {
      url = memory.get(key);
      if (url) {
        offset = await offsetOf(url);
        if (offset === null) { memory.forget(key); url = null; }
      }
      if (!url) { url = await create(file); offset = 0; memory.set(key, url); }
    } catch (e) {
      ui.set("failed", 0, file.size, e.text || String(e));
      return;
    }
    ui.resumed = offset;
    while (offset < file.size) {
      ui.set(failures ? "retrying" : "uploading", offset, file.size, "");
      try {
        offset = await patch(url, file.slice(offset, offset + CHUNK), offset, function (at) {
          ui.set("uploading", at, file.size, "");
        });
        failures = 0;
      } catch (e) {
        if (e.status === 404 || e.status === 413 || e.status === 400 || e.status === 415) {
          memory.forget(key); // refused for good: a new choice starts over
          ui.set("failed", offset, file.size, e.text);
          return;
        }
        failures += 1;
        if (failures > RETRIES) {
          ui.set("failed", offset, file.size, "The connection keeps failing; choose the file again to resume.");
          return;
        }
        ui.set("retrying", offset, file.size, "Connection lost; resuming…");
        await sleep(Math.min(500 * failures, 10000));
        try {
          var held = await offsetOf(url);
          if (held === null) { memory.forget(key); ui.set("failed", offset, file.size, "The server no longer has this upload; choose the file again."); return; }
          offset = held;
        } catch (e2) { /* still down: the next PATCH attempt fails and waits again */ }
      }
    }
    memory.forget(key);
    ui.set("done", file.size, file.size, "");
    hand_over(token, url);
  }

  function mount(token) {
    token.dataset.docketUpload = "1";
    var input = token.querySelector("input");
    var words = (input && input.placeholder) || "Upload a file";
    var box = document.createElement("div");
    box.className = "docket-upload";
    var chooser = document.createElement("input");
    chooser.type = "file";
    chooser.className = "docket-upload-file";
    chooser.setAttribute("aria-label", words);
    chooser.style.display = "none";
    var button = document.createElement("button");
    button.type = "button";
    button.className = "docket-upload-button jupyter-button";
    button.textContent = words;
    var bar = document.createElement("progress");
    bar.className = "docket-upload-progress";
    bar.max = 100;
    bar.value = 0;
    bar.hidden = true;
    var status = document.createElement("span");
    status.className = "docket-upload-status";
    status.setAttribute("aria-live", "polite");
    box.append(chooser, button, bar, status);
    token.insertAdjacentElement("afterend", box);
    var ui = {
      resumed: 0,
      set: function (state, at, size, message) {
        box.dataset.state = state;
        box.dataset.offset = String(at);
        bar.hidden = false;
        bar.value = size ? Math.floor((100 * at) / size) : 100;
        var percent = size ? Math.floor((100 * at) / size) + " %" : "100 %";
        status.textContent = message || (state === "done" ? percent + " ✓" : percent);
      },
    };
    button.addEventListener("click", function () { chooser.click(); });
    chooser.addEventListener("change", function () {
      if (chooser.files && chooser.files[0]) { send(chooser.files[0], token, ui); }
      chooser.value = ""; // the same file can be chosen again (to resume)
    });
    new MutationObserver(function () { // the kernel relabels (language switch)
      if (input && input.placeholder && button.textContent !== input.placeholder) {
        button.textContent = input.placeholder;
        chooser.setAttribute("aria-label", input.placeholder);
      }
    }).observe(input || token, { attributes: true, attributeFilter: ["placeholder"] });
  }

  function scan() {
    if (!document.getElementById("docket-upload-style") && document.head) {
      var style = document.createElement("style");
      style.id = "docket-upload-style";
      style.textContent = STYLE;
      document.head.appendChild(style);
    }
    document.querySelectorAll(".docket-upload-token").forEach(function (token) {
      if (!token.dataset.docketUpload) { mount(token); }
    });
  }
  new MutationObserver(scan).observe(document.documentElement, { childList: true, subtree: true });
  scan();
})();

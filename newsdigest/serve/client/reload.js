// Live reload for `newsdigest serve`. The server adds this script to pages as it sends them;
// built sites never contain it. It listens to the server's event stream and
//  - reloads the page when the page itself (or a script or image it uses) was rebuilt,
//  - swaps the stylesheets in place when only CSS changed,
//  - shows build errors in an overlay until they are fixed.
(function () {
  "use strict";
  var script = document.currentScript;
  var build = (script && script.getAttribute("data-build")) || "";
  var notFound = script && script.getAttribute("data-status") === "404";
  var root = "/__newsdigest/";
  var source = null;
  var overlay = null;
  var shownErrors = "[]";

  function pathOf(url) {
    try {
      var path = decodeURIComponent(new URL(url, location.href).pathname);
      return path.charAt(path.length - 1) === "/" ? path + "index.html" : path;
    } catch (e) {
      return "";
    }
  }

  function usedHere(path) {
    var elements = document.querySelectorAll("img, source, video, audio, script[src], link[rel~=icon]");
    for (var i = 0; i < elements.length; i++) {
      var el = elements[i];
      var url = el.currentSrc || el.src || el.href || el.getAttribute("srcset") || "";
      if (url && pathOf(url.split(" ")[0]) === path) { return true; }
    }
    return false;
  }

  function refreshStyles() {
    var links = document.querySelectorAll('link[rel~="stylesheet"]');
    Array.prototype.forEach.call(links, function (link) {
      var url = new URL(link.href, location.href);
      if (url.origin !== location.origin) { return; }
      url.searchParams.set("newsdigest-reload", String(Date.now()));
      var fresh = link.cloneNode();
      fresh.href = url.href;
      // The old sheet stays until the new one has loaded: no flash of an unstyled page.
      fresh.addEventListener("load", function () { link.remove(); });
      fresh.addEventListener("error", function () { fresh.remove(); });
      link.after(fresh);
    });
  }

  function apply(update) {
    build = update.build || build;
    var paths = update.paths;
    if (paths === null) { location.reload(); return; }
    var here = pathOf(location.href);
    var styles = false;
    for (var i = 0; i < paths.length; i++) {
      var path = paths[i];
      if (/\.css$/i.test(path)) {
        styles = true;
      } else if (path === here || (notFound && path === "/404.html") || usedHere(path)) {
        location.reload();
        return;
      }
    }
    if (styles) { refreshStyles(); }
  }

  function element(tag, className, text) {
    var el = document.createElement(tag);
    if (className) { el.className = className; }
    if (text) { el.textContent = text; }
    return el;
  }

  function hideErrors() {
    if (overlay) { overlay.remove(); overlay = null; }
  }

  function showErrors(errors) {
    var key = JSON.stringify(errors);
    if (key === shownErrors) { return; }
    shownErrors = key;
    hideErrors();
    if (!errors.length) { return; }
    overlay = document.createElement("newsdigest-overlay");
    overlay.hidden = true;  // until its stylesheet is in
    var shadow = overlay.attachShadow({ mode: "open" });
    var sheet = element("link");
    sheet.rel = "stylesheet";
    sheet.href = root + "overlay.css";
    sheet.addEventListener("load", function () { overlay.hidden = false; });
    shadow.appendChild(sheet);

    var backdrop = element("div", "backdrop");
    var panel = element("section", "panel");
    panel.setAttribute("role", "alert");
    panel.setAttribute("aria-labelledby", "newsdigest-title");
    var header = element("header", "head");
    var title = element("h2", "title",
      errors.length === 1 ? "The build failed" : "The build failed: " + errors.length + " problems");
    title.id = "newsdigest-title";
    var close = element("button", "close", "Dismiss");
    close.type = "button";
    close.addEventListener("click", hideErrors);
    header.appendChild(title);
    header.appendChild(close);
    panel.appendChild(header);
    panel.appendChild(element("p", "note",
      "You are looking at the last good build. Fix the file and save: this goes away by itself."));

    var list = element("ol", "errors");
    errors.slice(0, 50).forEach(function (error) {
      var entry = element("li", "error");
      var where = error.file + (error.line ? ":" + error.line : "");
      if (where) { entry.appendChild(element("code", "where", where)); }
      entry.appendChild(element("pre", "message", error.message));
      if (error.context && error.context.length) {
        var frame = element("pre", "context");
        error.context.forEach(function (pair) {
          var row = element("span", pair[0] === error.line ? "row hit" : "row");
          row.appendChild(element("span", "number", String(pair[0])));
          row.appendChild(document.createTextNode(pair[1] + "\n"));
          frame.appendChild(row);
        });
        entry.appendChild(frame);
      }
      list.appendChild(entry);
    });
    panel.appendChild(list);
    if (errors.length > 50) {
      panel.appendChild(element("p", "note", "… and " + (errors.length - 50) + " more (see the terminal)."));
    }
    backdrop.appendChild(panel);
    shadow.appendChild(backdrop);
    document.documentElement.appendChild(overlay);
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { hideErrors(); }
  });

  function connect() {
    if (source || !window.EventSource) { return; }
    source = new EventSource(root + "events?since=" + encodeURIComponent(build));
    source.addEventListener("status", function (event) { showErrors(JSON.parse(event.data).errors); });
    source.addEventListener("reload", function (event) { apply(JSON.parse(event.data)); });
  }

  function disconnect() {
    if (source) { source.close(); source = null; }
  }

  // Browsers allow only a few connections per server, so a hidden tab lets go of its stream;
  // when it is shown again it asks for everything that changed since its last news.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { disconnect(); } else { connect(); }
  });
  window.addEventListener("pagehide", disconnect);
  if (document.visibilityState !== "hidden") { connect(); }
})();

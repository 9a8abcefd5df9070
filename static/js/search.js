// Client-side search with Pagefind's index (built by `newsdigest build` into /pagefind/).
(function () {
  "use strict";
  var status = document.querySelector("[data-search-bundle]");
  var list = document.getElementById("search-results");
  var input = document.getElementById("search-query");
  if (!status || !list || !input) { return; }
  var base = status.getAttribute("data-search-base") || "/";
  var pagefindPromise = null;
  var decoder = document.createElement("textarea");

  function load() {
    if (!pagefindPromise) {
      pagefindPromise = import(status.getAttribute("data-search-bundle")).then(function (pf) {
        return pf.options({ baseUrl: base }).then(function () { return pf; });
      });
    }
    return pagefindPromise;
  }

  function text(tag, className, value) {
    var el = document.createElement(tag);
    if (className) { el.className = className; }
    el.textContent = value;
    return el;
  }

  function show(results, query) {
    list.replaceChildren();
    results.forEach(function (data) {
      var li = document.createElement("li");
      li.className = "search-result";
      if (data.meta && data.meta.image) {
        var img = document.createElement("img");
        img.src = data.meta.image;
        img.alt = "";
        img.loading = "lazy";
        img.width = 160;
        img.height = 90;
        li.appendChild(img);
      }
      var body = document.createElement("div");
      var link = text("a", "search-result-title", (data.meta && data.meta.title) || data.url);
      link.href = data.url;
      var heading = document.createElement("h2");
      heading.appendChild(link);
      body.appendChild(heading);
      // The excerpt is Pagefind's own text with <mark> around hits: rebuild it safely.
      var excerpt = document.createElement("p");
      String(data.excerpt || "").split(/(<mark>|<\/mark>)/).reduce(function (inMark, part) {
        if (part === "<mark>") { return true; }
        if (part === "</mark>") { return false; }
        decoder.innerHTML = part;  // a textarea only decodes entities: nothing runs or loads
        var decoded = decoder.value;
        excerpt.appendChild(inMark ? text("mark", "", decoded) : document.createTextNode(decoded));
        return inMark;
      }, false);
      body.appendChild(excerpt);
      li.appendChild(body);
      list.appendChild(li);
    });
    status.textContent = results.length
      ? results.length + " result" + (results.length === 1 ? "" : "s") + " for “" + query + "”"
      : "No results for “" + query + "”.";
  }

  var latest = 0;
  function run(query) {
    var ticket = ++latest;
    if (!query.trim()) { list.replaceChildren(); status.textContent = ""; return; }
    status.textContent = "Searching…";
    load().then(function (pf) { return pf.search(query); }).then(function (search) {
      return Promise.all(search.results.slice(0, 20).map(function (r) { return r.data(); }));
    }).then(function (results) {
      if (ticket === latest) { show(results, query); }
    }).catch(function () {
      status.textContent = "The search index is not available. Build the site with `newsdigest build`.";
    });
  }

  var timer = null;
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { run(input.value); }, 150);
  });
  var initial = new URLSearchParams(location.search).get("q") || "";
  if (initial) { input.value = initial; run(initial); } else { status.textContent = ""; }
})();

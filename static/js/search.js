// Client-side search with Pagefind's indexes (built by `newsdigest build`): /pagefind/ holds
// every item page as of the last time it was made whole, /pagefind-recent/ the pages changed
// since, with the list of pages whose entries in the first are out of date (replaced.json).
(function () {
  "use strict";
  var status = document.querySelector("[data-search-bundle]");
  var list = document.getElementById("search-results");
  var input = document.getElementById("search-query");
  if (!status || !list || !input) { return; }
  var base = status.getAttribute("data-search-base") || "/";
  var SHOWN = 20;
  var indexesPromise = null;
  var decoder = document.createElement("textarea");

  function index(bundle) {
    return import(bundle).then(function (pf) {
      if (typeof pf.search !== "function") { return null; }  // an index with no page
      return pf.options({ baseUrl: base }).then(function () { return pf; });
    });
  }

  function load() {
    if (!indexesPromise) {
      var recent = status.getAttribute("data-search-recent");
      var replaced = recent.replace(/pagefind\.js$/, "replaced.json");
      indexesPromise = Promise.all([
        index(status.getAttribute("data-search-bundle")),
        index(recent).catch(function () { return null; }),  // (a site built before it)
        fetch(replaced).then(function (r) { return r.ok ? r.json() : []; })
          .catch(function () { return []; }),
      ]).then(function (found) {
        var stale = {};
        found[2].forEach(function (path) { stale[base + path] = true; });
        return { whole: found[0], recent: found[1], stale: stale };
      });
    }
    return indexesPromise;
  }

  // Both indexes' hits by score; the whole index's hits on pages it has out of date are left
  // out (their new versions, if any, are hits of the recent index).
  function search(indexes, query) {
    var searches = [indexes.whole.search(query),
      indexes.recent ? indexes.recent.search(query) : Promise.resolve({ results: [] })];
    return Promise.all(searches).then(function (done) {
      var hits = done[0].results.map(function (r) { return { result: r, whole: true }; })
        .concat(done[1].results.map(function (r) { return { result: r, whole: false }; }));
      hits.sort(function (a, b) { return b.result.score - a.result.score; });
      return collect(hits, indexes.stale, [], 0);
    });
  }

  // A hit's page (its URL) is known once its data is loaded: load them a screenful at a time
  // until there are enough that are not out of date.
  function collect(hits, stale, kept, from) {
    if (kept.length >= SHOWN || from >= hits.length) {
      return Promise.resolve(kept.slice(0, SHOWN));
    }
    return Promise.all(hits.slice(from, from + SHOWN).map(function (hit) {
      return hit.result.data().then(function (data) {
        return hit.whole && stale[data.url] ? null : data;
      });
    })).then(function (found) {
      return collect(hits, stale, kept.concat(found.filter(Boolean)), from + SHOWN);
    });
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
    load().then(function (indexes) { return search(indexes, query); }).then(function (results) {
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

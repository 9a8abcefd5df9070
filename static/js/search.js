// Client-side search with Pagefind's indexes (built by `newsdigest build`): /pagefind/ holds
// every item page as of the last time it was made whole, in shards (shards.json lists them:
// the first is loaded, the others merged into it), /pagefind-recent/ the pages changed
// since, with the list of pages whose entries in the first are out of date (replaced.json)
// and every kind and source on the site (facets.json). Topic, kind and source narrow the
// results with Pagefind's filters; the state is kept in the address (?q=&topic=&kind=...).
(function () {
  "use strict";
  var status = document.querySelector("[data-search-shards]");
  var list = document.getElementById("search-results");
  var input = document.getElementById("search-query");
  var form = input && input.form;
  if (!status || !list || !input || !form) { return; }
  var base = status.getAttribute("data-search-base") || "/";
  var SHOWN = 20;
  var FACETS = ["topic", "kind", "provider"];
  var indexesPromise = null;
  var decoder = document.createElement("textarea");
  var chips = Array.prototype.slice.call(form.querySelectorAll(".facet-chip"));
  var kindSelect = document.getElementById("facet-kind");
  var providerSelect = document.getElementById("facet-provider");
  var chosen = { topic: "", kind: "", provider: "" };

  function index(bundle) {
    return import(bundle).then(function (pf) {
      if (typeof pf.search !== "function") { return null; }  // an index with no page
      return pf.options({ baseUrl: base }).then(function () { return pf; });
    });
  }

  function json(url, fallback) {
    return fetch(url).then(function (r) { return r.ok ? r.json() : fallback; })
      .catch(function () { return fallback; });
  }

  // The whole index: its first shard, with the others merged in (one copy of Pagefind's code).
  function whole() {
    var shardsUrl = new URL(status.getAttribute("data-search-shards"), location.href);
    return json(shardsUrl.href, []).then(function (shards) {
      if (!shards.length) { return null; }
      var folders = shards.map(function (name) { return new URL(name, shardsUrl).pathname; });
      return index(folders[0] + "pagefind.js").then(function (pf) {
        if (!pf) { return null; }
        return Promise.all(folders.slice(1).map(function (folder) {
          return pf.mergeIndex(folder, { baseUrl: base });
        })).then(function () { return pf; });
      });
    });
  }

  function load() {
    if (!indexesPromise) {
      var recent = status.getAttribute("data-search-recent");
      var folder = recent.replace(/pagefind\.js$/, "");
      indexesPromise = Promise.all([
        whole(),
        index(recent).catch(function () { return null; }),  // (a site built before it)
        json(folder + "replaced.json", []),
      ]).then(function (found) {
        var stale = {};
        found[2].forEach(function (path) { stale[base + path] = true; });
        return { whole: found[0], recent: found[1], stale: stale };
      });
    }
    return indexesPromise;
  }

  function filters() {
    var set = {};
    FACETS.forEach(function (name) { if (chosen[name]) { set[name] = chosen[name]; } });
    return set;
  }

  // Both indexes' hits by score; the whole index's hits on pages it has out of date are left
  // out (their new versions, if any, are hits of the recent index).
  function search(indexes, query) {
    var options = { filters: filters() };
    var none = Promise.resolve({ results: [] });
    var searches = [indexes.whole ? indexes.whole.search(query, options) : none,
      indexes.recent ? indexes.recent.search(query, options) : none];
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

  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
    "Dec"];

  function optionLabel(select, value) {
    var labels = Array.prototype.filter.call(select.options, function (o) {
      return o.value === value;
    });
    return labels.length ? labels[0].textContent : value;
  }

  // Source, day and kind of a result: the day is in its address (news/YYYY/MM/DD/), the
  // source and kind in its filters.
  function details(data) {
    var parts = [];
    var values = data.filters || {};
    if (values.provider && values.provider[0]) { parts.push(values.provider[0]); }
    var day = /\/news\/(\d{4})\/(\d{2})\/(\d{2})\/[^/]+\/$/.exec(data.url || "");
    if (day) { parts.push(MONTHS[+day[2] - 1] + " " + (+day[3]) + ", " + day[1]); }
    var kind = values.kind && values.kind[0];
    if (kind && kind !== "news") { parts.push(kindLabel(kind)); }
    return parts.join(" · ");
  }

  function kindLabel(kind) {
    var label = optionLabel(kindSelect, kind);
    return kind === "sponsor" ? label : label.replace(/s$/, "");  // "Papers" -> "Paper"
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
      var line = details(data);
      if (line) { body.appendChild(text("p", "search-result-meta", line)); }
      // The excerpt is Pagefind's own text with <mark> around hits: rebuild it safely.
      var excerpt = document.createElement("p");
      excerpt.className = "search-result-excerpt";
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
    var within = narrowing();
    status.textContent = (results.length
      ? results.length + " result" + (results.length === 1 ? "" : "s") + " for “" + query + "”"
      : "No results for “" + query + "”") + (within ? " in " + within : "") + ".";
  }

  // The chosen filters as words: "Robotics · Papers · Source Daily".
  function narrowing() {
    var words = [];
    if (chosen.topic) { words.push(chosen.topic); }
    if (chosen.kind) { words.push(optionLabel(kindSelect, chosen.kind)); }
    if (chosen.provider) { words.push(chosen.provider); }
    return words.join(" · ");
  }

  // With filters but no words: say so, and offer the topic's own page (newest first).
  function prompt() {
    list.replaceChildren();
    status.replaceChildren();
    var within = narrowing();
    if (!within) { return; }
    status.appendChild(document.createTextNode("Type a word to search " + within + "."));
    var chip = chips.filter(function (c) { return c.value && c.value === chosen.topic; })[0];
    if (chip && chip.getAttribute("formaction")) {
      status.appendChild(document.createTextNode(" Or browse "));
      var link = text("a", "", "every " + chosen.topic + " story");
      link.href = chip.getAttribute("formaction");
      status.appendChild(link);
      status.appendChild(document.createTextNode("."));
    }
  }

  // The address says what is shown: a reload, a shared link or Back shows the same.
  function remember(query) {
    var params = new URLSearchParams();
    if (query) { params.set("q", query); }
    FACETS.forEach(function (name) { if (chosen[name]) { params.set(name, chosen[name]); } });
    var search = params.toString();
    history.replaceState(null, "", location.pathname + (search ? "?" + search : ""));
  }

  var latest = 0;
  function run() {
    var ticket = ++latest;
    var query = input.value.trim();
    remember(query);
    if (!query) { prompt(); return; }
    status.textContent = "Searching…";
    load().then(function (indexes) { return search(indexes, query); }).then(function (results) {
      if (ticket === latest) { show(results, query); }
    }).catch(function () {
      status.textContent = "The search index is not available. Build the site with `newsdigest build`.";
    });
  }

  function showChosen() {
    chips.forEach(function (chip) {
      chip.setAttribute("aria-pressed", String(chip.value === chosen.topic));
    });
    kindSelect.value = chosen.kind;
    providerSelect.value = chosen.provider;
  }

  // Facets: only the kinds the site has, and its sources (facets.json, made with the index).
  function offerFacets() {
    var folder = status.getAttribute("data-search-recent").replace(/pagefind\.js$/, "");
    return json(folder + "facets.json", { kind: [], provider: [] }).then(function (facets) {
      var kinds = facets.kind || [];
      Array.prototype.slice.call(kindSelect.options).forEach(function (option) {
        if (option.value && kinds.indexOf(option.value) < 0 && option.value !== chosen.kind) {
          option.remove();
        }
      });
      var providers = (facets.provider || []).slice();
      if (chosen.provider && providers.indexOf(chosen.provider) < 0) {
        providers.push(chosen.provider);
      }
      providers.forEach(function (name) {
        var option = document.createElement("option");
        option.value = name;
        option.textContent = name;
        providerSelect.appendChild(option);
      });
      showChosen();
    });
  }

  var timer = null;
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(run, 150);
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();  // results come in place; a topic button no longer leaves
    var button = event.submitter;
    if (button && button.classList.contains("facet-chip")) {
      // the pressed topic again clears it
      chosen.topic = button.value === chosen.topic ? "" : button.value;
      showChosen();
    }
    clearTimeout(timer);
    run();
  });
  [kindSelect, providerSelect].forEach(function (select) {
    select.addEventListener("change", function () {
      chosen[select.name] = select.value;
      run();
    });
  });

  var params = new URLSearchParams(location.search);
  FACETS.forEach(function (name) { chosen[name] = params.get(name) || ""; });
  input.value = params.get("q") || "";
  // With JavaScript the filters work in place: show the ones that need it.
  form.querySelectorAll("[data-facet-all], [data-facet-selects]").forEach(function (el) {
    el.hidden = false;
  });
  form.classList.add("search-live");
  showChosen();
  offerFacets().then(function () {
    if (input.value || narrowing()) { run(); } else { status.textContent = ""; }
  });
})();

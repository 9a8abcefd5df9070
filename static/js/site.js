// Progressive enhancement only: every page is complete without this script.
(function () {
  "use strict";

  // "3 hours ago" beside absolute times; the absolute time stays as the tooltip.
  var units = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400],
               ["hour", 3600], ["minute", 60]];
  var format = window.Intl && Intl.RelativeTimeFormat
    ? new Intl.RelativeTimeFormat(document.documentElement.lang || "en", { numeric: "auto" })
    : null;
  function relative(date) {
    var seconds = (date.getTime() - Date.now()) / 1000;
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(seconds) >= units[i][1] || units[i][0] === "minute") {
        return format.format(Math.round(seconds / units[i][1]), units[i][0]);
      }
    }
  }
  function updateTimes() {
    if (!format) { return; }
    document.querySelectorAll("time[data-relative]").forEach(function (el) {
      var date = new Date(el.getAttribute("datetime"));
      if (isNaN(date)) { return; }
      if (!el.dataset.absolute) { el.dataset.absolute = el.textContent; el.title = el.textContent; }
      var ageDays = (Date.now() - date.getTime()) / 86400000;
      if (ageDays < 7 && ageDays > -1) { el.textContent = relative(date); }
    });
  }

  // Click-to-play: the player (and its cookies) load only when the reader asks.
  function enableVideoFacades() {
    document.querySelectorAll("a.video-facade[data-embed]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var src = link.getAttribute("data-embed");
        if (!/^https:\/\/(www\.youtube-nocookie\.com\/embed\/|player\.vimeo\.com\/video\/)/.test(src)) { return; }
        event.preventDefault();
        var frame = document.createElement("iframe");
        frame.src = src + (src.indexOf("?") < 0 ? "?" : "&") + "autoplay=1";
        frame.title = link.getAttribute("data-title") || "Video";
        frame.className = "video-frame";
        frame.setAttribute("allow", "accelerometer; autoplay; encrypted-media; gyroscope; picture-in-picture; fullscreen");
        frame.setAttribute("allowfullscreen", "");
        frame.setAttribute("referrerpolicy", "strict-origin-when-cross-origin");
        link.replaceWith(frame);
      });
    });
  }

  // A remote image that did not load (no thumbnail was made of it) uncovers the tile beneath;
  // a provider logo that did not load gives way to the provider's initial, as in the markup of
  // a provider without a logo.
  function fallBack(img) {
    if (!img.classList.contains("provider-logo")) { img.hidden = true; return; }
    var name = img.closest(".provider") && img.closest(".provider").querySelector(".provider-name");
    var initial = document.createElement("span");
    initial.className = "provider-initial";
    initial.setAttribute("aria-hidden", "true");
    initial.textContent = ((name && name.textContent.trim()) || "?").charAt(0).toUpperCase();
    (img.parentNode.tagName === "PICTURE" ? img.parentNode : img).replaceWith(initial);
  }
  function hideBrokenImages() {
    document.querySelectorAll("img.card-remote, img.provider-logo").forEach(function (img) {
      if (img.complete && img.naturalWidth === 0) { fallBack(img); return; }  // failed already
      img.addEventListener("error", function () { fallBack(img); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    updateTimes();
    enableVideoFacades();
    hideBrokenImages();
  });
})();

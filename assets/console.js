/* Log console behaviour that belongs in the browser (dash_app/components/console.py):
 * follow the tail until the user scrolls up, "jump to end", the filter box and the level toggles.
 * Event delegation on document, so consoles rendered later by Dash work without setup. */
(function () {
  "use strict";
  var NEAR_BOTTOM_PX = 24; // within this of the end counts as "at the end": follow again

  function wrapOf(el) { return el && el.closest ? el.closest(".fd-console-wrap") : null; }
  function boxOf(wrap) { return wrap.querySelector(".fd-console"); }
  function atEnd(box) { return box.scrollHeight - box.scrollTop - box.clientHeight <= NEAR_BOTTOM_PX; }
  function setFollow(wrap, on) { wrap.setAttribute("data-follow", on ? "1" : "0"); }
  function following(wrap) { return wrap.getAttribute("data-follow") !== "0"; }
  function toEnd(wrap) { var box = boxOf(wrap); box.scrollTop = box.scrollHeight; setFollow(wrap, true); }

  function matches(line, q) { return !q || line.textContent.toLowerCase().indexOf(q) !== -1; }
  function filterText(wrap) {
    // dcc.Input may put the class on a wrapper around the <input>.
    var input = wrap.querySelector("input.fd-console-filter") || wrap.querySelector(".fd-console-filter input");
    return input ? input.value.trim() : "";
  }
  function applyFilter(wrap, nodes) {
    var q = filterText(wrap).toLowerCase();
    (nodes || wrap.querySelectorAll(".fd-l")).forEach(function (line) {
      line.classList.toggle("fd-hidden-by-filter", !matches(line, q));
    });
    updateNoMatch(wrap);
  }
  // A filter or level choice that hides every line says so, instead of leaving an empty black box.
  function updateNoMatch(wrap) {
    var note = wrap.querySelector(".fd-console-nomatch"), box = boxOf(wrap);
    if (!note || !box) return;
    var lines = wrap.querySelectorAll(".fd-console-lines .fd-l"), shown = false;
    for (var i = 0; i < lines.length && !shown; i++) {
      var line = lines[i], level = (line.className.match(/\bfd-(info|warning|error|progress|success)\b/) || [])[1];
      shown = !line.classList.contains("fd-hidden-by-filter") && !(level && box.classList.contains("fd-hide-" + level));
    }
    if (!lines.length || shown) { note.hidden = true; return; }
    var q = filterText(wrap), levelsHidden = /\bfd-hide-/.test(box.className);
    note.textContent = q ? "No lines match \u201c" + q + "\u201d" + (levelsHidden ? " in the levels shown." : ".")
                         : "No lines in the levels shown.";
    note.hidden = false;
  }

  // Scroll events do not bubble: listen in the capture phase.
  document.addEventListener("scroll", function (ev) {
    var box = ev.target;
    if (!box.classList || !box.classList.contains("fd-console")) return;
    var wrap = wrapOf(box);
    if (wrap && !wrap._fdAuto) setFollow(wrap, atEnd(box));
    if (wrap) wrap._fdAuto = false;
  }, true);

  document.addEventListener("click", function (ev) {
    var jump = ev.target.closest && ev.target.closest(".fd-console-jump");
    if (jump) { toEnd(wrapOf(jump)); return; }
    var toggle = ev.target.closest && ev.target.closest(".fd-level-toggle");
    if (toggle) {
      var wrap = wrapOf(toggle), level = toggle.getAttribute("data-level");
      var on = !toggle.classList.contains("active");
      toggle.classList.toggle("active", on);
      toggle.setAttribute("aria-pressed", on ? "true" : "false");
      boxOf(wrap).classList.toggle("fd-hide-" + level, !on);
      updateNoMatch(wrap);
    }
  });

  document.addEventListener("input", function (ev) {
    if (ev.target.closest && ev.target.closest(".fd-console-filter")) applyFilter(wrapOf(ev.target));
  });

  // New lines: filter them, and keep the end in view while following.
  function watch(wrap) {
    if (wrap._fdWatched) return;
    wrap._fdWatched = true;
    var lines = wrap.querySelector(".fd-console-lines");
    new MutationObserver(function (records) {
      var added = [];
      records.forEach(function (r) {
        r.addedNodes.forEach(function (n) {
          if (n.nodeType !== 1) return;
          if (n.classList.contains("fd-l")) added.push(n); else n.querySelectorAll(".fd-l").forEach(function (l) { added.push(l); });
        });
      });
      if (added.length) applyFilter(wrap, added);
      if (following(wrap)) { wrap._fdAuto = true; boxOf(wrap).scrollTop = boxOf(wrap).scrollHeight; }
    }).observe(lines, {childList: true, subtree: true});
    toEnd(wrap);
  }
  new MutationObserver(function () {
    document.querySelectorAll(".fd-console-wrap").forEach(watch);
  }).observe(document.documentElement, {childList: true, subtree: true});
})();

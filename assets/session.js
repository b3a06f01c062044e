// A tab whose session expired: the gate answers Dash's requests with 401; send the person to the
// login page (and back here afterwards) instead of leaving a page that silently stopped updating.
(function () {
  if (window.__folddeckFetchWrapped || !window.fetch) { return; }
  window.__folddeckFetchWrapped = true;
  var original = window.fetch.bind(window);
  window.fetch = function (input, init) {
    return original(input, init).then(function (response) {
      var url = typeof input === "string" ? input : (input && input.url) || "";
      if (response.status === 401 && url.indexOf("/_dash-") !== -1 && location.pathname !== "/login") {
        var next = location.pathname + location.search;
        location.assign("/login?next=" + encodeURIComponent(next));
      }
      // The pages router refused an admin page (403): load it for real, so the server's "Admins only"
      // page shows instead of a page that silently did not change.
      var body = init && typeof init.body === "string" ? init.body : "";
      if (response.status === 403 && url.indexOf("/_dash-update-component") !== -1 &&
          body.indexOf("_pages_content") !== -1 && sessionStorage.getItem("fdForbiddenReload") !== location.href) {
        sessionStorage.setItem("fdForbiddenReload", location.href);  // once per address: never a reload loop
        location.reload();
      }
      return response;
    });
  };
})();

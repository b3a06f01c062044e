// Dashboard grid helpers (dash_app/components/job_grid.py). Sorting happens on the server; AG Grid
// still sorts the rows it was given when a header is clicked, so put them back in rowData order.
window.dashAgGridFunctions = window.dashAgGridFunctions || {};
window.dashAgGridFunctions.keepServerOrder = function (params) {
  params.nodes.sort(function (a, b) { return a.sourceRowIndex - b.sourceRowIndex; });
};

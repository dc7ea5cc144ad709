// TaskManager web UI: the little behaviour plain HTML lacks. Everything works without it.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.dataset.confirm;
  // A button that only looks (e.g. a preview) says so with data-no-confirm.
  const looking = event.submitter && event.submitter.hasAttribute("data-no-confirm");
  if (question && !looking && !window.confirm(question)) {
    event.preventDefault();
  }
});

// Filter forms are applied with their button or Enter, never on change: a keyboard user moving
// through a select's options with the arrow keys would otherwise reload the page at each one.

// Task list: the header's "select all on this page" box ticks every row's box. (Without
// JavaScript the server reads the box itself and takes every task of the page.)
document.addEventListener("change", (event) => {
  const box = event.target;
  const name = box.dataset && box.dataset.selectAll;
  if (name) {
    document.querySelectorAll(`input[type=checkbox][name="${name}"][form="${box.form.id}"]`)
      .forEach((row) => { row.checked = box.checked; });
  }
});

// Task list: of the bulk action's value fields, show the one the chosen action uses.
function showBulkFields(select) {
  select.form.querySelectorAll("[data-bulk-for]").forEach((field) => {
    field.hidden = !field.dataset.bulkFor.split(" ").includes(select.value);
  });
}
document.querySelectorAll("form.bulk select[name=action]").forEach(showBulkFields);
document.addEventListener("change", (event) => {
  if (event.target.matches("form.bulk select[name=action]")) {
    showBulkFields(event.target);
  }
});

// Unticking one row after "select all" means not all of them any more.
document.addEventListener("change", (event) => {
  const row = event.target;
  if (row.matches("input[type=checkbox][name=ids][form]") && !row.checked) {
    const all = document.querySelector(`input[data-select-all="ids"][form="${row.form.id}"]`);
    if (all) {
      all.checked = false;
    }
  }
});

// TaskManager web UI: the little behaviour plain HTML lacks. Everything works without it.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// Filter forms are applied with their button or Enter, never on change: a keyboard user moving
// through a select's options with the arrow keys would otherwise reload the page at each one.

// A choice that changes what the page shows (e.g. how many tasks would move) reloads it.
document.addEventListener("change", (event) => {
  const field = event.target;
  const param = field.dataset && field.dataset.previewParam;
  if (param) {
    const url = new URL(window.location.href);
    url.searchParams.set(param, field.value);
    window.location.assign(url.toString());
  }
});

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

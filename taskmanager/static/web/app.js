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

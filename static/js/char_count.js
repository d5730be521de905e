// Elements with data-char-count-for show how many characters the named field holds, of
// data-limit, as the person types. The server renders the first count, so without JavaScript
// the text is right when the page loads; the field's maxlength stops typing at the limit.
document.addEventListener("input", (event) => {
  const field = event.target;
  if (!field.id) return;
  for (const counter of document.querySelectorAll(`[data-char-count-for="${CSS.escape(field.id)}"]`)) {
    counter.textContent = `${field.value.length} of ${counter.dataset.limit} characters`;
  }
});

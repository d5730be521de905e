// The flow's Test questions, Publish and Export / import pages. Everything works without this
// file; it adds a spoken busy state to htmx runs, the "Find an article" picker, and links from a
// YAML problem to its line in the editor.

// A form with data-busy-status says, in that status region, what it is doing while htmx runs it.
document.addEventListener("htmx:beforeRequest", (event) => {
  const form = event.target.closest ? event.target.closest("[data-busy-status]") : null;
  if (!form) return;
  const status = document.getElementById(form.dataset.busyStatus);
  if (status) status.textContent = form.dataset.busyText || "Working…";
});

// "Find an article": shown only with JavaScript, it appends the chosen id as a new line.
for (const picker of document.querySelectorAll("[data-article-picker]")) picker.hidden = false;

function appendArticle(button) {
  const source = document.getElementById(button.dataset.appendFrom);
  const target = document.getElementById(button.dataset.appendTo);
  const status = document.getElementById(button.dataset.appendStatus);
  const value = source ? source.value.trim() : "";
  if (!source || !target) return;
  if (!value) {
    if (status) status.textContent = "Type or pick an article first.";
    source.focus();
    return;
  }
  const lines = target.value.split("\n").map((line) => line.trim()).filter(Boolean);
  if (!lines.includes(value)) lines.push(value);
  target.value = lines.join("\n");
  source.value = "";
  source.focus();
  if (status) status.textContent = `Added ${value}.`;
}

document.addEventListener("click", (event) => {
  const append = event.target.closest("[data-append-from]");
  if (append) {
    event.preventDefault();
    appendArticle(append);
    return;
  }
  const goto = event.target.closest("[data-goto-line]");
  if (goto) {
    const editor = document.getElementById(goto.dataset.gotoTarget);
    if (!editor) return;
    event.preventDefault();
    const lines = editor.value.split("\n");
    const index = Math.min(Number(goto.dataset.gotoLine), lines.length) - 1;
    const start = lines.slice(0, index).reduce((sum, line) => sum + line.length + 1, 0);
    editor.focus();
    editor.setSelectionRange(start, start + (lines[index] || "").length);
    // Scroll the line into view: a line is about as tall as the editor's line height.
    const lineHeight = parseFloat(getComputedStyle(editor).lineHeight) || 20;
    editor.scrollTop = Math.max(0, (index - 3) * lineHeight);
  }
});

// Enter in "Find an article" adds it rather than submitting the whole form.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Enter" || event.target.id !== "article-find") return;
  const button = document.querySelector(`[data-append-from="${event.target.id}"]`);
  if (!button) return;
  event.preventDefault();
  appendArticle(button);
});

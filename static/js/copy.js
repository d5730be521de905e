// Buttons with data-copy-target copy the text of the element it names, and say so in the
// element named by their aria-describedby (a status region, read out by screen readers).
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copyTarget);
  const status = document.getElementById(button.getAttribute("aria-describedby"));
  if (!source) return;
  try {
    await navigator.clipboard.writeText(source.textContent);
    if (status) status.textContent = "Copied.";
  } catch {
    // No clipboard access (an http:// console, a refused permission): select it for Ctrl+C.
    getSelection().selectAllChildren(source);
    if (status) status.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
  }
});

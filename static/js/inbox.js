// Buttons with data-compose (the brief's suggested reply, canned replies) put their text into
// the reply composer named by aria-controls, for the agent to edit before sending.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-compose]");
  if (!button) return;
  const composer = document.getElementById(button.getAttribute("aria-controls"));
  if (!composer) return;
  composer.value = button.dataset.compose;
  composer.focus();
});

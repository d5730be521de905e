// The Thresholds page: show each slider's value as it moves, and after htmx replaces the
// calibration region, put its one-line summary into the status region screen readers announce.
(function () {
  const form = document.getElementById("thresholds-form");
  if (!form) return;
  for (const slider of form.querySelectorAll('input[type="range"]')) {
    const output = document.getElementById(`${slider.id}_value`);
    slider.addEventListener("input", () => {
      if (output) output.textContent = slider.value;
    });
  }
  const region = document.getElementById("calibration");
  const announcement = document.getElementById("calibration-announcement");
  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.target !== region || !announcement) return;
    const summary = region.querySelector("[data-testid='calibration-summary']");
    announcement.textContent = summary ? summary.textContent.trim() : "";
  });
})();

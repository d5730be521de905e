// Drag and drop reordering of a flow's rules. While a rule is dragged the list shows where it
// would land; dropping it writes the rules' positions, in their new order, into the hidden
// order form and submits it (htmx swaps the list; without htmx the page reloads). Escape, or a
// drop outside the list, puts the rule back. Keyboard and touch users have the Move up /
// Move down buttons, which work without this script.
(() => {
  const ITEM = "#rules-list > li[draggable='true']";
  let dragged = null;
  let origin = null; // where the dragged rule was: put it back when the drag is cancelled

  document.addEventListener("dragstart", (event) => {
    const item = event.target instanceof Element ? event.target.closest(ITEM) : null;
    if (!item || event.target !== item) return; // a link or text inside the rule: not a reorder
    dragged = item;
    origin = { list: item.parentNode, next: item.nextElementSibling };
    item.classList.add("rule--dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", item.dataset.position);
  });

  document.addEventListener("dragover", (event) => {
    if (!dragged) return;
    const target = event.target instanceof Element ? event.target.closest(ITEM) : null;
    if (!target || target.parentNode !== dragged.parentNode) return;
    event.preventDefault(); // a rule of the same list: dropping here is allowed
    event.dataTransfer.dropEffect = "move";
    if (target === dragged) return;
    const box = target.getBoundingClientRect();
    const after = event.clientY > box.top + box.height / 2;
    target.parentNode.insertBefore(dragged, after ? target.nextElementSibling : target);
  });

  document.addEventListener("drop", (event) => {
    if (dragged) event.preventDefault();
  });

  document.addEventListener("dragend", (event) => {
    if (!dragged) return;
    const item = dragged;
    dragged = null;
    item.classList.remove("rule--dragging");
    if (event.dataTransfer.dropEffect === "none") {
      origin.list.insertBefore(item, origin.next);
      return;
    }
    submitOrder(item.parentNode);
  });

  function submitOrder(list) {
    const form = document.getElementById("rules-order-form");
    const positions = [...list.children].map((item) => item.dataset.position);
    if (!form || positions.every((position, index) => Number(position) === index + 1)) return;
    form.querySelectorAll("input[name='order']").forEach((input) => input.remove());
    for (const position of positions) {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = "order";
      input.value = position;
      form.append(input);
    }
    form.requestSubmit();
  }
})();

// The chat page inside the widget's frame (/chat/<slug>/?embedded=1, opened by widget.js). It
// runs before chat.js.
//
// It tells the widget when it is ready (the widget then asks it to focus the message box), and
// passes Escape on, since keys pressed in the frame never reach the company's page: the widget
// closes itself. These messages carry nothing but their type, so they may go to whatever page
// embeds the chat ("*"); only the page showing the chat has any use for them.
(() => {
  "use strict";

  if (window.parent === window) return;

  if (storageRefused()) keepStorageWithTheWidget();

  window.parent.postMessage({ type: "support-chat:ready" }, "*");

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !event.defaultPrevented) {
      window.parent.postMessage({ type: "support-chat:close" }, "*");
    }
  });

  window.addEventListener("message", (event) => {
    if (event.source !== window.parent || !event.data) return;
    if (event.data.type === "support-chat:focus") {
      document.getElementById("chat-input")?.focus();
    }
  });

  function storageRefused() {
    try {
      window.localStorage.getItem("support-chat");
      return false;
    } catch {
      return true;
    }
  }

  // Chromium refuses storage to a frame from another site when the customer blocks third-party
  // cookies, and chat.js keeps the conversation's token in localStorage. Then this page keeps it
  // in memory and hands every change to the widget, which stores it on the company's site and
  // gives it back in the frame's address (#storage=...) next time, so a reload still continues
  // the conversation. The items go only to the page that embeds this one, which the chat's
  // frame-ancestors policy limits to the sites the workspace allowed.
  function keepStorageWithTheWidget() {
    const parentOrigin = location.ancestorOrigins && location.ancestorOrigins[0];
    const items = new Map(Object.entries(itemsFromAddress()));
    history.replaceState(null, "", location.pathname + location.search);
    const save = () => {
      if (!parentOrigin) return; // no way to know who would receive them: keep them here only
      const message = { type: "support-chat:storage", items: Object.fromEntries(items) };
      window.parent.postMessage(message, parentOrigin);
    };
    const storage = {
      getItem: (key) => (items.has(String(key)) ? items.get(String(key)) : null),
      setItem(key, value) {
        items.set(String(key), String(value));
        save();
      },
      removeItem(key) {
        items.delete(String(key));
        save();
      },
      clear() {
        items.clear();
        save();
      },
      key: (index) => [...items.keys()][index] ?? null,
      get length() {
        return items.size;
      },
    };
    Object.defineProperty(window, "localStorage", { configurable: true, get: () => storage });
  }

  function itemsFromAddress() {
    try {
      const parsed = JSON.parse(new URLSearchParams(location.hash.slice(1)).get("storage"));
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) return {};
      return Object.fromEntries(
        Object.entries(parsed).filter(([, value]) => typeof value === "string"),
      );
    } catch {
      return {};
    }
  }
})();

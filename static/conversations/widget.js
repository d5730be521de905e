// The chat widget, for a company's own site (the console's "Chat widget" page shows the snippet):
//
//   <script src="https://support.example.com/static/conversations/widget.js"
//           data-workspace="acme" data-title="Acme support" async></script>
//
// It adds a chat button at the bottom right that opens the workspace's chat page
// (/chat/<slug>/?embedded=1) in a frame: a panel on wide screens, the whole screen on narrow ones.
// The chat server is the one this script came from; `data-server` names it when the script is
// served from elsewhere (a CDN). The chat page lets only the sites the workspace's admins allowed
// frame it, so on any other site the browser refuses to show it.
//
// Optional attributes: `data-title` (the panel's title, "Support chat" by default), and the
// customer's signed identity, passed to the chat page as it documents (README, "Customer chat"):
// `data-user-id`, `data-user-hash`, `data-name`, `data-email`, `data-plan`, `data-attributes`.
//
// Everything lives in a shadow root, so the site's styles and the widget's never mix. The frame
// is made on the first open, so visitors who never open the chat start no conversation.
(() => {
  "use strict";

  const HOST_ID = "support-chat-widget";
  const IDENTITY_PARAMS = {
    userId: "user_id",
    userHash: "user_hash",
    name: "name",
    email: "email",
    plan: "plan",
    attributes: "attributes",
  };

  const script =
    document.currentScript || document.querySelector("script[data-workspace][src*='widget.js']");
  if (!script || document.getElementById(HOST_ID)) return; // no tag, or the snippet pasted twice
  const slug = script.dataset.workspace;
  if (!slug) {
    console.error('Support chat: add data-workspace="<workspace>" to the widget\'s script tag.');
    return;
  }
  let server;
  try {
    server = script.dataset.server
      ? new URL(script.dataset.server.replace(/\/?$/, "/"))
      : new URL("/", script.src);
  } catch {
    console.error("Support chat: data-server is not a URL.");
    return;
  }
  const title = script.dataset.title || "Support chat";
  // The chat's own items (its conversation token), kept here when the frame may not store them.
  const STORAGE_KEY = `support-chat-widget:${server.origin}:${slug}`;
  const STORAGE_MAX_LENGTH = 4096;

  const STYLE = `
    :host { all: initial; }
    .launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; width: 56px;
      height: 56px; padding: 0; border: 0; border-radius: 50%; background: #2457d6; color: #fff;
      cursor: pointer; box-shadow: 0 4px 14px rgba(0, 0, 0, .25); display: grid; place-items: center; }
    .launcher:focus-visible, .close:focus-visible { outline: 3px solid #fff;
      box-shadow: 0 0 0 6px #1c2430; }
    .launcher svg { width: 28px; height: 28px; }
    .panel { position: fixed; right: 20px; bottom: 88px; z-index: 2147483000; width: 380px;
      height: min(640px, calc(100vh - 108px)); display: flex; flex-direction: column;
      background: #fff; border-radius: 12px; overflow: hidden;
      box-shadow: 0 8px 30px rgba(0, 0, 0, .25); font: 15px/1.4 system-ui, sans-serif; }
    .panel[hidden] { display: none; }
    .bar { display: flex; align-items: center; justify-content: space-between; gap: 8px;
      padding: 6px 6px 6px 16px; background: #2457d6; color: #fff; }
    .title { margin: 0; font-size: 15px; font-weight: 600; overflow: hidden;
      text-overflow: ellipsis; white-space: nowrap; }
    .close { flex: none; width: 40px; height: 40px; border: 0; border-radius: 6px;
      background: transparent; color: inherit; font-size: 24px; line-height: 1; cursor: pointer; }
    iframe { flex: 1; width: 100%; border: 0; }
    /* A phone: the chat takes the whole screen, and its bar's close button replaces the launcher. */
    @media (max-width: 480px), (max-height: 480px) {
      .panel { inset: 0; width: 100%; height: 100%; border-radius: 0; }
      .open .launcher { display: none; }
    }`;
  const CHAT_ICON =
    '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="currentColor" ' +
    'd="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z"/></svg>';
  const COLLAPSE_ICON =
    '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="none" ' +
    'stroke="currentColor" stroke-width="2.5" stroke-linecap="round" d="M6 9l6 6 6-6"/></svg>';

  let root, panel, launcher, frame;
  let chatReady = false; // the chat page in the frame said so (a refused frame never does)

  function chatUrl() {
    const url = new URL(`chat/${encodeURIComponent(slug)}/`, server);
    url.searchParams.set("embedded", "1");
    for (const [attribute, param] of Object.entries(IDENTITY_PARAMS)) {
      const value = script.dataset[attribute];
      if (value) url.searchParams.set(param, value);
    }
    const kept = keptItems();
    if (kept) url.hash = `storage=${encodeURIComponent(kept)}`; // a fragment never reaches a server
    return url.href;
  }

  function keptItems() {
    try {
      return localStorage.getItem(STORAGE_KEY);
    } catch {
      return null; // the site's own storage is off too: the chat starts afresh on each visit
    }
  }

  function keepItems(items) {
    const isFlatObject =
      items && typeof items === "object" && !Array.isArray(items) &&
      Object.values(items).every((value) => typeof value === "string");
    const json = isFlatObject ? JSON.stringify(items) : "";
    if (!json || json.length > STORAGE_MAX_LENGTH) return;
    try {
      localStorage.setItem(STORAGE_KEY, json);
    } catch {
      // Storage full or off: the conversation still works, it just is not kept for a reload.
    }
  }

  function isOpen() {
    return !panel.hidden;
  }

  function askChatForFocus() {
    if (chatReady) frame.contentWindow.postMessage({ type: "support-chat:focus" }, server.origin);
  }

  function open() {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.title = title;
      frame.src = chatUrl();
      panel.append(frame);
    }
    panel.hidden = false;
    root.classList.add("open");
    launcher.setAttribute("aria-expanded", "true");
    launcher.innerHTML = COLLAPSE_ICON;
    frame.focus();
    askChatForFocus();
  }

  function close() {
    panel.hidden = true;
    root.classList.remove("open");
    launcher.setAttribute("aria-expanded", "false");
    launcher.innerHTML = CHAT_ICON;
    launcher.focus();
  }

  function mount() {
    const host = document.createElement("div");
    host.id = HOST_ID;
    const shadow = host.attachShadow({ mode: "open" });
    shadow.innerHTML = `<style>${STYLE}</style>
      <div class="widget">
        <button type="button" class="launcher" aria-expanded="false" aria-controls="panel">
          ${CHAT_ICON}</button>
        <section class="panel" id="panel" hidden>
          <div class="bar">
            <div class="title"></div>
            <button type="button" class="close" aria-label="Close chat">&times;</button>
          </div>
        </section>
      </div>`;
    root = shadow.querySelector(".widget");
    panel = shadow.querySelector(".panel");
    launcher = shadow.querySelector(".launcher");
    launcher.setAttribute("aria-label", title);
    panel.setAttribute("aria-label", title);
    shadow.querySelector(".title").textContent = title;

    launcher.addEventListener("click", () => (isOpen() ? close() : open()));
    shadow.querySelector(".close").addEventListener("click", close);
    shadow.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && isOpen()) close();
    });
    // What the chat page in the frame says (embedded.js); only its own messages count.
    window.addEventListener("message", (event) => {
      if (!frame || event.source !== frame.contentWindow || event.origin !== server.origin) return;
      const type = event.data && event.data.type;
      if (type === "support-chat:ready") {
        chatReady = true;
        if (isOpen()) askChatForFocus();
      } else if (type === "support-chat:close" && isOpen()) {
        close(); // Escape pressed inside the chat
      } else if (type === "support-chat:storage") {
        keepItems(event.data.items);
      }
    });
    document.body.append(host);
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();

// The customer chat client. Protocol: README.md, "Customer chat".
//
// Nothing the customer types is lost: a message stays "pending" until the server acks it, and
// every pending message is sent again (same client_id, so never stored twice) after a
// reconnect. Nothing is shown twice: messages are keyed by their stored id, and the customer's
// own broadcast replaces its pending bubble by client_id.
(() => {
  "use strict";

  const root = document.querySelector(".chat");
  const list = document.getElementById("chat-messages");
  const log = list.parentElement;
  const form = document.getElementById("chat-form");
  const input = document.getElementById("chat-input");
  const connection = document.getElementById("chat-connection");
  const typing = document.getElementById("chat-typing");
  const errorLine = document.getElementById("chat-error");

  const tokenKey = `support-chat:${root.dataset.workspace}:token`;
  // A browser that refuses storage (a third-party frame, a private window) must not stop the
  // chat: the conversation then lasts as long as the page (embedded.js may offer a stand-in).
  const tokenStore = {
    get() {
      try {
        return localStorage.getItem(tokenKey);
      } catch {
        return null;
      }
    },
    set(token) {
      try {
        localStorage.setItem(tokenKey, token);
      } catch {
        // kept in memory only: see above
      }
    },
  };
  const IDENTITY_PARAMS = ["user_id", "user_hash", "name", "email", "plan", "attributes"];
  const BACKOFF_MAX_MS = 15000;

  let socket = null;
  let attempt = 0;
  let conversationId = null;
  let lastSeenId = 0;
  const shownIds = new Set();
  const pending = new Map(); // client_id -> {text, element}

  function socketUrl() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const params = new URLSearchParams();
    const token = tokenStore.get();
    if (token) params.set("token", token);
    // The embedding page passes the company's signed identity through the chat page's URL.
    const pageParams = new URLSearchParams(location.search);
    for (const name of IDENTITY_PARAMS) {
      if (pageParams.get(name)) params.set(name, pageParams.get(name));
    }
    return `${scheme}//${location.host}${root.dataset.socketPath}?${params}`;
  }

  function connect() {
    connection.textContent = attempt ? "Reconnecting…" : "Connecting…";
    socket = new WebSocket(socketUrl());
    socket.addEventListener("message", (event) => handle(JSON.parse(event.data)));
    socket.addEventListener("close", () => {
      connection.textContent = "Disconnected. Reconnecting…";
      setTyping(false);
      // Exponential backoff with jitter, so a restarted server is not hit by every tab at once.
      const delay = Math.min(BACKOFF_MAX_MS, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
      attempt += 1;
      setTimeout(connect, delay);
    });
  }

  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
  }

  const handlers = {
    welcome(frame) {
      attempt = 0;
      tokenStore.set(frame.token);
      if (conversationId !== null && conversationId !== frame.conversation_id) {
        // The old token was refused: this is a new conversation, the old transcript is gone.
        list.replaceChildren();
        shownIds.clear();
        lastSeenId = 0;
      }
      conversationId = frame.conversation_id;
      connection.textContent = "Connected";
      send({ type: "resume", last_seen_id: lastSeenId });
    },
    resumed() {
      for (const [clientId, item] of pending) {
        send({ type: "message", client_id: clientId, text: item.text });
      }
    },
    ack(frame) {
      const item = pending.get(frame.client_id);
      if (item) {
        pending.delete(frame.client_id);
        item.element.classList.remove("chat__message--pending");
        item.element.dataset.messageId = frame.message_id;
      }
    },
    typing() {
      setTyping(true);
    },
    message(frame) {
      showMessage(frame.message);
    },
    action(frame) {
      showRequest(frame.action);
    },
    reply_delta(frame) {
      showReplyPiece(frame.reply_to, frame.text);
    },
    status(frame) {
      if (frame.status !== "ai") setTyping(false);
      if (frame.status === "waiting") showSystemLine("You are in the queue for a human agent.");
    },
    csat_request() {
      showRatingPrompt();
    },
    csat_thanks() {
      const prompt = list.querySelector(".chat__rating");
      if (prompt) prompt.replaceWith(systemLine("Thank you for your rating!"));
    },
    error(frame) {
      showError(frame.error);
    },
  };

  // Resolving asks for a 1-5 rating; the prompt is replaced by a thank-you once stored.
  function showRatingPrompt() {
    if (list.querySelector(".chat__rating")) return;
    const item = document.createElement("li");
    item.className = "chat__message chat__message--system chat__rating";
    const question = document.createElement("span");
    question.id = "chat-rating-question";
    question.textContent = "How did we do? Rate this conversation from 1 to 5.";
    const buttons = document.createElement("div");
    buttons.setAttribute("role", "group");
    buttons.setAttribute("aria-labelledby", question.id);
    for (let rating = 1; rating <= 5; rating += 1) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = String(rating);
      button.setAttribute("aria-label", `Rate ${rating} out of 5`);
      button.addEventListener("click", () => send({ type: "csat", rating }));
      buttons.append(button);
    }
    item.append(question, buttons);
    append(item);
  }

  function handle(frame) {
    const handler = handlers[frame.type];
    if (handler) handler(frame);
  }

  function showMessage(message) {
    if (shownIds.has(message.id)) return;
    shownIds.add(message.id);
    lastSeenId = Math.max(lastSeenId, message.id);
    if (message.sender !== "customer") setTyping(false);
    const element = messageElement(message);
    const waiting = message.client_id && pending.get(message.client_id);
    const shownPending = list.querySelector(
      `[data-client-id="${CSS.escape(message.client_id || "")}"]`,
    );
    // The stored reply replaces the text streamed for it (it may be the fallback instead).
    const streamed = message.sender === "customer" ? null : list.querySelector("[data-streaming]");
    if (waiting) pending.delete(message.client_id);
    if (shownPending) shownPending.replaceWith(element);
    else if (streamed) streamed.replaceWith(element);
    else append(element);
  }

  // One line per request the customer was told of, keyed by id: the latest status wins. The
  // system lines in the log say the same for screen readers, so this list is not announced.
  const REQUEST_STATES = {
    pending: "waiting for approval",
    approved: "approved, in progress",
    executed: "done",
    failed: "could not be completed",
    rejected: "declined",
    expired: "expired",
  };
  function showRequest(action) {
    if (!action || !REQUEST_STATES[action.status]) return;
    const requests = document.getElementById("chat-requests");
    let item = requests.querySelector(`[data-action-id="${CSS.escape(String(action.id))}"]`);
    if (!item) {
      item = document.createElement("li");
      item.dataset.actionId = String(action.id);
      requests.append(item);
    }
    item.className = `chat__request chat__request--${action.status}`;
    item.textContent = `${action.name}: ${REQUEST_STATES[action.status]}`;
    requests.hidden = false;
  }

  // The AI's reply as the model writes it: provisional, so hidden from screen readers, which
  // announce the stored reply once instead of every piece.
  function showReplyPiece(replyTo, piece) {
    if (typeof piece !== "string") return;
    let element = list.querySelector(`[data-streaming="${CSS.escape(String(replyTo))}"]`);
    if (!element) {
      element = messageElement({ id: null, sender: "ai", text: "" });
      element.dataset.streaming = String(replyTo);
      element.setAttribute("aria-hidden", "true");
      append(element);
    }
    element.querySelector(".chat__text").textContent += piece;
  }

  function messageElement(message) {
    const item = document.createElement("li");
    item.dataset.messageId = message.id;
    if (message.client_id) item.dataset.clientId = message.client_id;
    if (message.kind === "event" || message.sender === "system") {
      item.className = "chat__message chat__message--system";
      item.textContent = message.text;
      return item;
    }
    item.className = `chat__message chat__message--${message.sender}`;
    const author = document.createElement("span");
    author.className = "chat__author";
    author.textContent = authorName(message);
    const text = document.createElement("span");
    text.className = "chat__text";
    text.textContent = message.text;
    item.append(author, text);
    if (message.citations && message.citations.length) item.append(sourcesList(message.citations));
    return item;
  }

  function authorName(message) {
    if (message.sender === "customer") return "You";
    if (message.sender === "ai") return "Assistant";
    return message.author_name || "Agent";
  }

  function sourcesList(citations) {
    const sources = document.createElement("ul");
    sources.className = "chat__sources";
    sources.setAttribute("aria-label", "Sources");
    for (const citation of citations) {
      const entry = document.createElement("li");
      // Only web links become links: a citation must never carry a javascript: URL.
      if (/^https?:\/\//i.test(citation.url || "")) {
        const link = document.createElement("a");
        link.href = citation.url;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        link.textContent = citation.title || citation.url;
        entry.append(link);
      } else {
        entry.textContent = citation.title;
      }
      sources.append(entry);
    }
    return sources;
  }

  function systemLine(text) {
    const item = document.createElement("li");
    item.className = "chat__message chat__message--system";
    item.textContent = text;
    return item;
  }

  function showSystemLine(text) {
    append(systemLine(text));
  }

  function append(element) {
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    list.append(element);
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  function setTyping(on) {
    typing.textContent = on ? "The assistant is typing…" : "";
  }

  function showError(text) {
    errorLine.textContent = text;
    errorLine.hidden = false;
    clearTimeout(showError.timer);
    showError.timer = setTimeout(() => (errorLine.hidden = true), 6000);
  }

  // randomUUID exists only on https and localhost; a plain-http install still needs ids.
  function newClientId() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  }

  function submit() {
    const text = input.value.trim();
    if (!text) return;
    const clientId = newClientId();
    const element = messageElement({ id: null, client_id: clientId, sender: "customer", text });
    element.classList.add("chat__message--pending");
    pending.set(clientId, { text, element });
    append(element);
    input.value = "";
    send({ type: "message", client_id: clientId, text });
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });

  connect();
})();

/* AI Secretary: the website chat widget. One file, no framework, no build step.

   A site embeds it with the snippet the admin console shows:
     <script src="https://console.example/widget/PUBLIC_ID/widget.js" async></script>
   (or /widget.js?id=PUBLIC_ID). It asks the console for the widget's settings (refused
   for a site not on the widget's allowed origins: then nothing is shown), adds a launcher
   button and a chat panel inside a Shadow DOM (the host page's CSS cannot reach in), and
   talks to the console's public widget endpoints with fetch + CORS.

   Session: the id the console hands out is kept in a cookie on the host site
   (SameSite=None; Secure; 30 days) and in localStorage as the fallback for where the cookie
   cannot be kept (plain http). On every page load the history is fetched again
   (preloadHistory), and the panel's open/closed state comes back from sessionStorage, so a
   visitor who navigates keeps the conversation. Replies stream in as server-sent events
   read from the POST response. While the panel is open it polls for a person's replies.

   Every message is put on the page with textContent: HTML in a message is shown as text. */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || !script.src) return;
  var src = new URL(script.src);
  var BASE = src.origin;
  var byPath = src.pathname.match(/\/widget\/([A-Za-z0-9_-]+)\/widget\.js$/);
  var PUBLIC_ID = byPath ? byPath[1] : src.searchParams.get("id");
  if (!PUBLIC_ID || !/^[A-Za-z0-9_-]{12,32}$/.test(PUBLIC_ID)) return;

  var KEY = "aisec-widget-" + PUBLIC_ID;
  var OPEN_KEY = KEY + "-open";
  var SESSION_ID = /^[A-Za-z0-9_-]{43}$/;
  var COOKIE_MAX_AGE_S = 30 * 24 * 3600;
  var COLOR = /^#[0-9a-fA-F]{6}$/;

  // ---- where the session id is kept -------------------------------------------------

  function readCookie() {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === KEY) return decodeURIComponent(parts[i].slice(eq + 1));
    }
    return null;
  }

  function loadSession() {
    var id = null;
    try { id = readCookie(); } catch (e) { /* cookies blocked */ }
    if (!id) {
      try { id = window.localStorage.getItem(KEY); } catch (e) { /* storage blocked */ }
    }
    return id && SESSION_ID.test(id) ? id : null;
  }

  function saveSession(id) {
    try {
      document.cookie = KEY + "=" + id + "; Max-Age=" + COOKIE_MAX_AGE_S +
        "; Path=/; SameSite=None; Secure";
    } catch (e) { /* cookies blocked */ }
    try { window.localStorage.setItem(KEY, id); } catch (e) { /* storage blocked */ }
  }

  function forgetSession() {
    try { document.cookie = KEY + "=; Max-Age=0; Path=/; SameSite=None; Secure"; } catch (e) { /* */ }
    try { window.localStorage.removeItem(KEY); } catch (e) { /* */ }
  }

  function rememberOpen(open) {
    try { window.sessionStorage.setItem(OPEN_KEY, open ? "1" : "0"); } catch (e) { /* */ }
  }

  function wasOpen() {
    try { return window.sessionStorage.getItem(OPEN_KEY) === "1"; } catch (e) { return false; }
  }

  // ---- the console's endpoints ------------------------------------------------------

  function problem(response) {
    return response.json().then(function (body) {
      var error = new Error(body && body.error ? body.error : "The chat is not available.");
      error.status = response.status;
      return error;
    }, function () {
      var error = new Error("The chat is not available.");
      error.status = response.status;
      return error;
    });
  }

  function postJson(path, body) {
    return fetch(BASE + path, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body), credentials: "omit", mode: "cors"
    });
  }

  // Server-sent events from a fetch body: blocks of "event:" and "data:" lines.
  async function readEvents(response, onEvent) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    for (;;) {
      var chunk = await reader.read();
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true });
      var end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        var block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        var name = "message";
        var data = "";
        block.split("\n").forEach(function (line) {
          if (line.indexOf("event:") === 0) name = line.slice(6).trim();
          else if (line.indexOf("data:") === 0) data += line.slice(5).trim();
        });
        onEvent(name, data ? JSON.parse(data) : {});
      }
    }
  }

  // ---- the widget -------------------------------------------------------------------

  var STYLE = [
    ":host { all: initial; }",
    ".wrap { position: fixed; bottom: 20px; right: 20px; z-index: 2147483000;",
    "  font: 15px/1.4 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #1d2430; }",
    ".wrap.left { right: auto; left: 20px; }",
    "button { font: inherit; cursor: pointer; }",
    ".launcher { width: 56px; height: 56px; border-radius: 50%; border: none;",
    "  background: var(--accent); color: var(--on-accent); box-shadow: 0 4px 14px rgba(0,0,0,.25);",
    "  display: flex; align-items: center; justify-content: center; margin-left: auto; }",
    ".wrap.left .launcher { margin-left: 0; }",
    ".launcher svg { width: 28px; height: 28px; fill: currentColor; }",
    ".launcher:focus-visible, button:focus-visible, input:focus-visible { outline: 3px solid #f5b400; outline-offset: 2px; }",
    ".panel { position: absolute; bottom: 70px; right: 0; width: 360px; max-width: calc(100vw - 40px);",
    "  height: 480px; max-height: calc(100vh - 110px); background: #fff; border-radius: 12px;",
    "  box-shadow: 0 8px 30px rgba(0,0,0,.25); display: flex; flex-direction: column; overflow: hidden; }",
    ".wrap.left .panel { right: auto; left: 0; }",
    ".panel[hidden] { display: none; }",
    "header { background: var(--accent); color: var(--on-accent); padding: 10px 12px;",
    "  display: flex; align-items: center; justify-content: space-between; }",
    "header h2 { font-size: 16px; margin: 0; font-weight: 600; }",
    ".close { background: none; border: none; color: inherit; font-size: 22px; line-height: 1; padding: 2px 8px; }",
    ".log { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 8px; background: #f6f7f9; }",
    ".msg { max-width: 85%; padding: 8px 10px; border-radius: 10px; white-space: pre-wrap; overflow-wrap: anywhere; }",
    ".msg.assistant, .msg.owner { background: #fff; border: 1px solid #dde1e7; align-self: flex-start; }",
    ".msg.visitor { background: var(--accent); color: var(--on-accent); align-self: flex-end; }",
    ".msg.system { align-self: center; background: none; color: #6b7380; font-size: 13px; text-align: center; }",
    ".who { display: block; font-size: 12px; color: #6b7380; margin-bottom: 2px; }",
    "form { display: flex; gap: 6px; padding: 8px; border-top: 1px solid #dde1e7; background: #fff; }",
    "input { flex: 1; min-width: 0; font: inherit; padding: 8px; border: 1px solid #c5cbd3; border-radius: 6px; color: #1d2430; background: #fff; }",
    ".send { background: var(--accent); color: var(--on-accent); border: none; border-radius: 6px; padding: 8px 12px; }",
    ".human { background: none; border: none; color: #2458c6; text-decoration: underline; padding: 0 8px 8px; align-self: flex-start; font-size: 13px; }",
    ".sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }",
    "@media (max-width: 480px) {",
    "  .wrap, .wrap.left { right: 12px; left: auto; bottom: 12px; }",
    "  .wrap.open { left: 0; right: 0; bottom: 0; }",
    "  .wrap.open .launcher { display: none; }",
    "  .panel, .wrap.left .panel { position: fixed; left: 0; right: 0; bottom: 0; top: 0; width: 100%;",
    "    max-width: none; height: 100%; max-height: none; border-radius: 0; }",
    "}"
  ].join("\n");

  var ICON = '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg>';

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text) node.textContent = text;
    return node;
  }

  function start(config) {
    if (document.querySelector('[data-aisec-widget="' + PUBLIC_ID + '"]')) return;  // loaded twice
    // An element name no site styles (a site's `div {...}` would reach a div host).
    var host = el("aisec-chat", { "data-aisec-widget": PUBLIC_ID });
    var root = host.attachShadow({ mode: "open" });
    var style = el("style");
    style.textContent = STYLE;
    var wrap = el("div", { "class": "wrap" + (config.position === "bottom-left" ? " left" : "") });
    wrap.style.setProperty("--accent", COLOR.test(config.accent_color) ? config.accent_color : "#2458c6");
    wrap.style.setProperty("--on-accent", COLOR.test(config.text_color) ? config.text_color : "#ffffff");

    var name = String(config.name || "Chat");
    var launcher = el("button", { "class": "launcher", type: "button", "aria-label": "Open chat: " + name,
                                   "aria-expanded": "false", "aria-controls": "aisec-panel" });
    launcher.innerHTML = ICON;  // a constant, never text from anywhere
    var panel = el("div", { "class": "panel", id: "aisec-panel", role: "dialog", "aria-modal": "false",
                            "aria-labelledby": "aisec-title", hidden: "" });
    var header = el("header");
    header.appendChild(el("h2", { id: "aisec-title" }, name));
    var close = el("button", { "class": "close", type: "button", "aria-label": "Close chat" }, "×");
    header.appendChild(close);
    var log = el("div", { "class": "log", role: "log", "aria-live": "polite", "aria-label": "Conversation" });
    var form = el("form", { "class": "compose" });
    var label = el("label", { "class": "sr", "for": "aisec-input" }, "Your message");
    var input = el("input", { id: "aisec-input", type: "text", autocomplete: "off",
                              maxlength: String(config.max_message_chars || 1000),
                              placeholder: "Type your message" });
    var send = el("button", { "class": "send", type: "submit" }, "Send");
    form.appendChild(label);
    form.appendChild(input);
    form.appendChild(send);
    var human = el("button", { "class": "human", type: "button" }, "Talk to a human");
    panel.appendChild(header);
    panel.appendChild(log);
    panel.appendChild(form);
    panel.appendChild(human);
    wrap.appendChild(panel);
    wrap.appendChild(launcher);
    root.appendChild(style);
    root.appendChild(wrap);
    document.body.appendChild(host);

    var sessionId = loadSession();
    var cursor = 0;  // the newest turn shown; polling asks for what came after it
    var busy = false;
    var epoch = 0;  // a poll answered after a send began is stale
    var timer = null;

    function addLine(role, text) {
      var line = el("div", { "class": "msg " + role, "data-role": role });
      if (role === "owner") line.appendChild(el("span", { "class": "who" }, "A person from " + name));
      var body = el("span", { "class": "text" });
      body.textContent = text;
      line.appendChild(body);
      log.appendChild(line);
      log.scrollTop = log.scrollHeight;
      return body;
    }

    function showItems(items) {
      items.forEach(function (item) {
        if (item.id > cursor) {
          addLine(item.role, item.text);
          cursor = item.id;
        }
      });
    }

    async function preloadHistory() {
      if (!sessionId) return;
      try {
        var response = await fetch(BASE + "/widget/chat/session/" + sessionId, { credentials: "omit" });
        if (response.status === 404) {  // expired or unknown: start afresh
          forgetSession();
          sessionId = null;
          return;
        }
        if (!response.ok) return;
        var data = await response.json();
        showItems(data.items);
        cursor = Math.max(cursor, data.last);
      } catch (e) { /* offline: the history comes back on the next page */ }
    }

    async function poll() {
      if (!sessionId || busy) return;
      var mine = epoch;
      try {
        var response = await fetch(BASE + "/widget/chat/session/" + sessionId + "?after=" + cursor,
                                   { credentials: "omit" });
        if (!response.ok || mine !== epoch || busy) return;
        var data = await response.json();
        if (mine === epoch && !busy) showItems(data.items);
      } catch (e) { /* try again on the next tick */ }
    }

    async function ensureSession() {
      if (sessionId) return sessionId;
      var response = await postJson("/widget/" + PUBLIC_ID + "/sessions", {});
      if (!response.ok) throw await problem(response);
      sessionId = (await response.json()).session;
      saveSession(sessionId);
      return sessionId;
    }

    async function sendText(text) {
      busy = true;
      epoch += 1;
      addLine("visitor", text);
      try {
        await ensureSession();
        var response = await postJson("/widget/chat/session/" + sessionId + "/messages", { text: text });
        if (response.status === 404) { forgetSession(); sessionId = null; }
        if (!response.ok) throw await problem(response);
        var bubble = null;
        await readEvents(response, function (event, data) {
          if (event === "say") {
            if (bubble) bubble.textContent += " " + data.text;
            else bubble = addLine("assistant", data.text);
            log.scrollTop = log.scrollHeight;
          } else if (event === "handoff") {
            addLine("system", data.text);
          } else if (event === "done") {
            cursor = Math.max(cursor, data.last);
          }
        });
      } catch (error) {
        addLine("system", error.message || "The message could not be sent.");
      } finally {
        busy = false;
      }
    }

    function setOpen(open, focus) {
      panel.hidden = !open;
      wrap.classList.toggle("open", open);
      launcher.setAttribute("aria-expanded", String(open));
      launcher.setAttribute("aria-label", (open ? "Close chat: " : "Open chat: ") + name);
      rememberOpen(open);
      if (timer !== null) { clearInterval(timer); timer = null; }
      if (open) {
        timer = setInterval(poll, Math.max(1000, config.poll_ms || 3000));
        if (focus) input.focus();
      } else if (focus) {
        launcher.focus();
      }
    }

    launcher.addEventListener("click", function () { setOpen(panel.hidden, true); });
    close.addEventListener("click", function () { setOpen(false, true); });
    panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { event.preventDefault(); setOpen(false, true); }
    });
    form.addEventListener("submit", function (event) {  // Enter in the input sends
      event.preventDefault();
      var text = input.value.trim();
      if (!text || busy) return;
      input.value = "";
      sendText(text);
    });
    human.addEventListener("click", async function () {
      try {
        await ensureSession();
        var response = await postJson("/widget/chat/session/" + sessionId + "/handoff", {});
        if (!response.ok) throw await problem(response);
        addLine("system", (await response.json()).text);
      } catch (error) {
        addLine("system", error.message || "Please try again.");
      }
    });

    addLine("assistant", String(config.greeting || ""));
    preloadHistory().then(function () {
      if (wasOpen()) setOpen(true, false);  // came back from another page: keep it open
      host.setAttribute("data-ready", "true");
    });
  }

  async function init() {
    try {
      var response = await fetch(BASE + "/widget/" + PUBLIC_ID + "/config", { credentials: "omit" });
      if (!response.ok) return;  // e.g. this site is not allowed to use the widget
      start(await response.json());
    } catch (e) { /* refused by CORS, or offline: no widget */ }
  }

  if (document.body) init();
  else document.addEventListener("DOMContentLoaded", init);
})();

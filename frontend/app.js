// The chat client: one WebSocket, several rooms. No build step, no framework.
// Every name and message is put on the page with textContent, never as HTML.
"use strict";

(() => {
  const config = window.CHAT_CONFIG || {};
  const KEY_STORE = "chat.key";
  const NAME_STORE = "chat.name";
  const LAST_ROOM_STORE = "chat.room";
  const TYPING_SEND_EVERY_MS = 3000;
  const TYPING_SHOWN_MS = 5000;
  const HISTORY_PAGE = 50;

  const $ = (id) => document.getElementById(id);
  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };

  // --- identity: a random 128-bit key that never leaves this browser but on connect ---
  function secretKey() {
    let key = localStorage.getItem(KEY_STORE);
    if (!key || !/^[0-9a-f]{32}$/.test(key)) {
      const bytes = new Uint8Array(16);
      crypto.getRandomValues(bytes);
      key = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      localStorage.setItem(KEY_STORE, key);
    }
    return key;
  }

  // --- state ---
  const state = {
    me: null, // {userId, name}
    rooms: new Map(), // roomId -> room
    current: null,
    socket: null,
    attempt: 0,
    reconnectTimer: null,
    pending: new Map(), // ref -> {form}
    typingSentAt: 0,
    wantedRoom: new URLSearchParams(location.search).get("room"),
  };

  function room(roomId) {
    let r = state.rooms.get(roomId);
    if (!r) {
      r = {
        roomId, name: roomId, role: "member", status: "pending", members: [],
        messages: new Map(), unread: 0, older: null, more: false, typing: new Map(),
        lastMessageAt: new Map(),
      };
      state.rooms.set(roomId, r);
    }
    return r;
  }

  // The server's view of a room (roomId, name, role, status) onto our local state.
  function adopt(view) {
    const r = room(view.roomId);
    Object.assign(r, { name: view.name, role: view.role, status: view.status });
    return r;
  }

  // --- the connection ---
  function connect() {
    clearTimeout(state.reconnectTimer);
    const name = localStorage.getItem(NAME_STORE);
    if (!name || !config.websocketUrl) return;
    setConnection("connecting", state.attempt ? "Reconnecting…" : "Connecting…");
    const url = new URL(config.websocketUrl);
    url.searchParams.set("name", name);
    url.searchParams.set("key", secretKey());
    const socket = new WebSocket(url.toString());
    state.socket = socket;
    socket.addEventListener("open", () => send("listRooms"));
    socket.addEventListener("message", (event) => {
      let data;
      try { data = JSON.parse(event.data); } catch { return; }
      handle(data);
    });
    socket.addEventListener("close", (event) => {
      if (state.socket !== socket) return;
      state.socket = null;
      if (event.code === 1001) state.attempt = 0; // idle timeout or lifetime: come right back
      const delay = Math.min(30000, 1000 * 2 ** state.attempt) * (0.5 + Math.random() / 2);
      state.attempt += 1;
      setConnection("offline", `Offline — retrying in ${Math.ceil(delay / 1000)} s`);
      state.reconnectTimer = setTimeout(connect, delay);
    });
  }

  function send(action, payload = {}, form = null, extra = {}) {
    if (!state.socket || state.socket.readyState !== WebSocket.OPEN) {
      showNotice("Not connected yet — your last action was not sent. Try again in a moment.");
      return false;
    }
    const ref = Math.random().toString(36).slice(2, 10);
    if (form) state.pending.set(ref, { form, ...extra });
    state.socket.send(JSON.stringify({ action, ref, ...payload }));
    return true;
  }

  function setConnection(kind, text) {
    const pill = $("connection");
    pill.textContent = text;
    pill.className = "pill" + (kind === "online" ? " online" : kind === "connecting" ? " connecting" : "");
  }

  // --- events from the server ---
  const handlers = {
    rooms(data) {
      state.attempt = 0;
      state.me = { userId: data.userId, name: data.name };
      setConnection("online", "Online");
      $("whoami").textContent = data.name;
      $("whoami").hidden = false;
      const seen = new Set();
      for (const info of data.rooms) {
        const r = adopt(info);
        seen.add(info.roomId);
        if (r.status === "approved") {
          send("getMembers", { roomId: r.roomId });
          send("getHistory", { roomId: r.roomId, limit: HISTORY_PAGE }); // also catches up after a drop
        }
      }
      for (const id of [...state.rooms.keys()]) if (!seen.has(id)) state.rooms.delete(id);
      if (state.wantedRoom) {
        const wanted = state.wantedRoom;
        state.wantedRoom = null;
        if (state.rooms.has(wanted)) select(wanted);
        else {
          $("join-input").value = wanted;
          $("join-input").focus();
          showNotice(`You've been invited to room ${wanted}. Press "Ask to join" and its admin will let you in.`, "info");
        }
      } else if (!state.current) {
        const last = localStorage.getItem(LAST_ROOM_STORE);
        if (last && state.rooms.has(last)) select(last);
      }
      render();
    },
    roomCreated(data) {
      const r = adopt(data.room);
      if (!data.ref) { render(); return; } // created in another tab of ours
      $("create-input").value = "";
      select(r.roomId);
      showNotice(`Room created. Share its id ${r.roomId} or the invite link so people can ask to join.`, "info");
    },
    joinRequested(data) {
      const r = adopt(data.room);
      if (!data.ref) { render(); return; } // asked from another tab of ours
      $("join-input").value = "";
      select(r.roomId);
    },
    joinRequest(data) {
      const r = room(data.roomId);
      // The list's badge already counts pending requests (from the members event that follows).
      if (state.current !== r.roomId) {
        showNotice(`${data.user.name} asks to join ${data.roomName}.`, "info");
      }
      render();
    },
    joinDecision(data) {
      const r = adopt(data.room); // room.status is the decision
      if (data.status === "approved") {
        send("getMembers", { roomId: r.roomId });
        send("getHistory", { roomId: r.roomId, limit: HISTORY_PAGE });
        showNotice(`You're in: ${r.name}.`, "info");
      } else {
        showNotice(`Your request to join ${r.name} was declined.`);
      }
      render();
    },
    joinDecided() {},
    members(data) {
      const r = room(data.roomId);
      r.members = data.members;
      render();
    },
    message(data) {
      addMessages(data.message.roomId, [data.message], true);
    },
    messageSent(data) {
      const pending = data.ref && state.pending.get(data.ref);
      const input = $("message-input");
      if (pending && input.value.trim() === pending.text) input.value = "";
    },
    history(data) {
      const r = room(data.roomId);
      const newest = data.before === undefined || data.before === null;
      const overlaps = data.messages.some((m) => r.messages.has(m.messageId));
      if (!newest || r.messages.size === 0 || (!overlaps && data.more)) {
        // An older page, a first load, or a catch-up after a long drop that left a gap:
        // "Load older" continues from this page, and de-duplication fills the gap.
        r.older = data.cursor;
        r.more = data.more;
      }
      addMessages(data.roomId, data.messages, false);
    },
    typing(data) {
      const r = room(data.roomId);
      // A notice can overtake nothing but may trail the message it announced.
      if (Date.now() - (r.lastMessageAt.get(data.userId) || 0) < 1500) return;
      r.typing.set(data.userId, { name: data.name, until: Date.now() + TYPING_SHOWN_MS });
      renderTyping();
      setTimeout(renderTyping, TYPING_SHOWN_MS + 50);
    },
    left(data) {
      state.rooms.delete(data.roomId);
      if (state.current === data.roomId) state.current = null;
      render();
    },
    error(data) {
      const pending = data.ref && state.pending.get(data.ref);
      const text = friendly(data);
      if (pending && pending.form) showFormError(pending.form, text);
      else showNotice(text);
    },
  };

  function handle(data) {
    if (data.ref) {
      const pending = state.pending.get(data.ref);
      if (pending && data.type !== "error") clearFormError(pending.form);
    }
    const handler = handlers[data.type];
    if (handler) handler(data);
    else if (data.message === "Internal server error" || data.message === "Forbidden") {
      showNotice("The server could not handle that. Please try again.");
    }
    if (data.ref) state.pending.delete(data.ref);
  }

  function addMessages(roomId, messages, live) {
    const r = room(roomId);
    let added = 0;
    for (const m of messages) {
      if (!r.messages.has(m.messageId)) { r.messages.set(m.messageId, m); added += 1; }
      r.typing.delete(m.userId);
      if (live) r.lastMessageAt.set(m.userId, Date.now());
    }
    if (live && added && state.current !== roomId) r.unread += added;
    if (roomId === state.current) { renderMessages(live); renderTyping(); }
    renderRooms();
  }

  // --- rendering ---
  function render() {
    renderRooms();
    renderRoom();
  }

  function renderRooms() {
    const list = $("room-list");
    list.replaceChildren();
    for (const r of [...state.rooms.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      const item = el("li");
      const button = el("button", "room-item");
      button.type = "button";
      button.setAttribute("aria-current", String(r.roomId === state.current));
      button.append(el("span", "room-name", r.name));
      if (r.status !== "approved") button.append(el("span", `tag ${r.status}`, r.status));
      else if (r.role === "admin") button.append(el("span", "tag", "admin"));
      const pendingCount = r.role === "admin" ? r.members.filter((m) => m.status === "pending").length : 0;
      const count = r.unread + pendingCount;
      if (count) {
        const badge = el("span", "badge", String(count));
        badge.setAttribute("aria-label", pendingCount ? `${count} new (${pendingCount} waiting to join)` : `${count} unread`);
        button.append(badge);
      }
      button.addEventListener("click", () => select(r.roomId));
      item.append(button);
      list.append(item);
    }
    $("no-rooms").hidden = state.rooms.size > 0;
  }

  function select(roomId) {
    state.current = roomId;
    localStorage.setItem(LAST_ROOM_STORE, roomId);
    const r = room(roomId);
    r.unread = 0;
    closePanels(); // on a narrow screen, show the room rather than the panel it was chosen in
    render();
    renderMessages(true);
  }

  function renderRoom() {
    const r = state.current && state.rooms.get(state.current);
    $("room-empty").hidden = Boolean(r);
    $("room-view").hidden = !r;
    if (!r) { renderMembers(null); return; }
    $("room-title").textContent = r.name;
    $("room-id").textContent = r.roomId;
    $("leave").hidden = r.role === "admin" || r.status === "rejected";
    $("leave").textContent = r.status === "pending" ? "Withdraw request" : "Leave";
    const status = $("room-status");
    const approved = r.status === "approved";
    status.hidden = approved;
    status.textContent = r.status === "pending"
      ? "Waiting for the room's admin to approve your request. You'll be let in as soon as they do."
      : "The admin declined your request to join this room. You can ask again.";
    $("composer").hidden = !approved;
    $("messages").hidden = !approved;
    renderMembers(r);
    renderTyping();
  }

  function renderMessages(stickToBottom) {
    const r = state.current && state.rooms.get(state.current);
    const list = $("messages");
    if (!r) return;
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    const previousHeight = list.scrollHeight;
    list.replaceChildren();
    if (r.more) {
      const item = el("li", "system");
      const older = el("button", "small-button", "Load older messages");
      older.type = "button";
      older.addEventListener("click", () => send("getHistory", { roomId: r.roomId, before: r.older, limit: HISTORY_PAGE }));
      item.append(older);
      list.append(item);
    }
    const sorted = [...r.messages.values()].sort((a, b) =>
      a.sentAt === b.sentAt ? a.messageId.localeCompare(b.messageId) : a.sentAt.localeCompare(b.sentAt));
    if (!sorted.length) list.append(el("li", "system", "No messages yet. Say hello!"));
    for (const m of sorted) {
      const mine = state.me && m.userId === state.me.userId;
      const item = el("li", mine ? "message mine" : "message");
      const meta = el("div", "meta");
      meta.append(el("span", "author", mine ? "You" : m.name));
      const time = el("time", "", formatTime(m.sentAt));
      time.dateTime = m.sentAt;
      time.title = new Date(m.sentAt).toLocaleString();
      meta.append(time);
      item.append(meta, el("div", "bubble", m.text));
      list.append(item);
    }
    if (stickToBottom || nearBottom) list.scrollTop = list.scrollHeight;
    else list.scrollTop += list.scrollHeight - previousHeight;
  }

  function renderTyping() {
    const r = state.current && state.rooms.get(state.current);
    let line = $("typing-line");
    if (!line) {
      line = el("p", "muted small typing");
      line.id = "typing-line";
      line.setAttribute("aria-live", "polite");
      $("composer").before(line);
    }
    const now = Date.now();
    const names = r ? [...r.typing.values()].filter((t) => t.until > now).map((t) => t.name) : [];
    line.textContent = names.length === 0 ? "" : names.length === 1
      ? `${names[0]} is typing…` : `${names.slice(0, -1).join(", ")} and ${names.at(-1)} are typing…`;
  }

  function renderMembers(r) {
    const list = $("member-list");
    const requests = $("requests");
    list.replaceChildren();
    requests.replaceChildren();
    const panel = $("requests-panel");
    if (!r) { panel.hidden = true; return; }
    const isAdmin = state.me && r.role === "admin";
    const pending = r.members.filter((m) => m.status === "pending");
    panel.hidden = !(isAdmin && pending.length);
    $("request-count").textContent = pending.length ? String(pending.length) : "";
    for (const m of pending) {
      if (!isAdmin) break;
      const item = el("li", "request");
      item.append(el("span", "name", m.name), el("span", "muted small", "wants to join"));
      const actions = el("div", "actions");
      const approve = el("button", "approve", "Approve");
      const reject = el("button", "reject", "Reject");
      approve.type = reject.type = "button";
      approve.setAttribute("aria-label", `Approve ${m.name}`);
      reject.setAttribute("aria-label", `Reject ${m.name}`);
      approve.addEventListener("click", () => send("joinRoom", { roomId: r.roomId, op: "approve", userId: m.userId }));
      reject.addEventListener("click", () => send("joinRoom", { roomId: r.roomId, op: "reject", userId: m.userId }));
      actions.append(approve, reject);
      item.append(actions);
      requests.append(item);
    }
    for (const m of r.members) {
      const item = el("li", "member");
      const avatar = el("span", "avatar", initials(m.name));
      avatar.style.background = colour(m.userId);
      avatar.setAttribute("aria-hidden", "true");
      const dot = el("span", m.online ? "dot on" : "dot");
      avatar.append(dot);
      const who = el("span", "who");
      const you = state.me && m.userId === state.me.userId ? " (you)" : "";
      const line = el("span", "name-line");
      const name = el("span", "name", m.name);
      name.title = m.name;
      line.append(name);
      if (you) line.append(" ", el("span", "you", "(you)"));
      who.append(line);
      who.append(el("span", "status", `${m.status === "pending" ? "pending approval" : m.online ? "online" : "offline"}`));
      item.append(avatar, who);
      if (m.role === "admin") item.append(el("span", "role-badge", "admin"));
      item.setAttribute("aria-label", `${m.name}${you}, ${m.role}, ${m.status}, ${m.online ? "online" : "offline"}`);
      list.append(item);
    }
  }

  // --- little helpers ---
  const FIELD_NAMES = { text: "Messages", name: "Room names", roomId: "Room ids" };
  function friendly(error) {
    if (error.code === "INVALID_PAYLOAD" && error.limit && FIELD_NAMES[error.field]) {
      return `${FIELD_NAMES[error.field]} can be at most ${error.limit} characters.`;
    }
    if (error.code === "INVALID_PAYLOAD" && error.field === "roomId") {
      return "That isn't a room id: ids are 10 letters and digits, like k7m2qh9xpa.";
    }
    if (error.code === "ROOM_NOT_FOUND") return "There's no room with that id. Check it with whoever shared it.";
    return error.message;
  }
  function initials(name) {
    return name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => [...w][0].toUpperCase()).join("") || "?";
  }
  function colour(id) {
    let h = 0;
    for (const ch of id) h = (h * 31 + ch.charCodeAt(0)) % 360;
    return `hsl(${h} 55% 45%)`;
  }
  function formatTime(iso) {
    const d = new Date(iso);
    const sameDay = d.toDateString() === new Date().toDateString();
    return sameDay ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
      : d.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  }
  function showNotice(text, kind = "error") {
    const notice = $("notice");
    $("notice-text").textContent = text;
    notice.className = kind === "info" ? "notice info" : "notice";
    notice.setAttribute("role", kind === "info" ? "status" : "alert");
    notice.hidden = false;
    clearTimeout(state.noticeTimer);
    if (kind === "info") state.noticeTimer = setTimeout(() => { notice.hidden = true; }, 10000);
  }
  function showFormError(form, text) {
    let line = form.querySelector(".field-error");
    if (!line) { line = el("p", "field-error"); line.setAttribute("role", "alert"); form.append(line); }
    line.textContent = text;
    line.hidden = false;
  }
  function clearFormError(form) {
    const line = form && form.querySelector(".field-error");
    if (line) line.hidden = true;
  }
  function closePanels() {
    $("sidebar").classList.remove("open");
    $("members").classList.remove("open");
    $("menu-toggle").setAttribute("aria-expanded", "false");
    $("members-toggle").setAttribute("aria-expanded", "false");
  }
  async function copy(text, button) {
    try {
      await navigator.clipboard.writeText(text);
      const label = button.textContent;
      button.textContent = "Copied ✓";
      setTimeout(() => { button.textContent = label; }, 1500);
    } catch {
      showNotice(`Copy this: ${text}`, "info");
    }
  }
  function inviteLink(roomId) {
    const url = new URL(location.href);
    url.search = "";
    url.hash = "";
    url.searchParams.set("room", roomId);
    return url.toString();
  }

  // --- wiring ---
  function start() {
    const name = localStorage.getItem(NAME_STORE);
    $("welcome").hidden = Boolean(name);
    $("app").hidden = !name;
    $("sign-out").hidden = !name;
    if (!config.websocketUrl) {
      showNotice("This page has no config.js with the WebSocket URL. Deploy writes it; run the deploy again.");
      return;
    }
    if (name) connect();
    else $("name-input").focus();
  }

  $("name-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = $("name-input").value.trim();
    const error = $("name-error");
    // The server's rule: 1–32 characters, no control or invisible formatting characters.
    const invisible = /[\p{Cc}\p{Zl}\p{Zp}]|(?!\u200d)\p{Cf}/u;
    if (!name || [...name].length > 32 || invisible.test(name)) {
      error.textContent = "Use 1 to 32 visible characters.";
      error.hidden = false;
      return;
    }
    error.hidden = true;
    localStorage.setItem(NAME_STORE, name);
    start();
  });
  $("sign-out").addEventListener("click", () => {
    localStorage.removeItem(NAME_STORE);
    if (state.socket) { const s = state.socket; state.socket = null; s.close(1000); }
    clearTimeout(state.reconnectTimer);
    state.rooms.clear();
    state.current = null;
    $("whoami").hidden = true;
    setConnection("offline", "Offline");
    $("name-input").value = "";
    start();
    render();
  });
  $("create-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = $("create-input").value.trim();
    if (name) send("createRoom", { name }, event.target);
    else showFormError(event.target, "Give the room a name.");
  });
  $("join-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const roomId = $("join-input").value.trim().toLowerCase();
    if (roomId) send("joinRoom", { roomId, op: "request" }, event.target);
  });
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("message-input");
    const text = input.value.trim();
    if (!text || !state.current) return;
    // The text stays until the server accepts it, so a refused message isn't lost.
    if (send("sendMessage", { roomId: state.current, text }, event.target, { text })) {
      state.typingSentAt = 0;
    }
  });
  $("message-input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("message-input").addEventListener("input", () => {
    const now = Date.now();
    if (state.current && now - state.typingSentAt > TYPING_SEND_EVERY_MS && $("message-input").value.trim()) {
      state.typingSentAt = now;
      send("typing", { roomId: state.current });
    }
  });
  $("copy-id").addEventListener("click", (event) => copy(state.current, event.currentTarget));
  $("copy-link").addEventListener("click", (event) => copy(inviteLink(state.current), event.currentTarget));
  $("leave").addEventListener("click", () => {
    const r = state.current && state.rooms.get(state.current);
    if (r && confirm(`Leave ${r.name}? You'll need the admin's approval to come back.`)) {
      send("leaveRoom", { roomId: r.roomId });
    }
  });
  $("notice-close").addEventListener("click", () => { $("notice").hidden = true; });
  $("menu-toggle").addEventListener("click", () => {
    const open = $("sidebar").classList.toggle("open");
    $("menu-toggle").setAttribute("aria-expanded", String(open));
  });
  $("members-toggle").addEventListener("click", () => {
    const open = $("members").classList.toggle("open");
    $("members-toggle").setAttribute("aria-expanded", String(open));
  });
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") closePanels(); });

  start();
})();

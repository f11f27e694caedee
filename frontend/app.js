// The chat client: one WebSocket, several rooms. No build step, no framework.
// Everything a user reads is put on the page with textContent, never as HTML, and the
// page is updated in place (keyed by id), so focus, scroll position and screen readers'
// live regions survive every event.
"use strict";

(() => {
  const config = window.CHAT_CONFIG || {};
  const KEY_STORE = "chat.key";
  const NAME_STORE = "chat.name";
  const LAST_ROOM_STORE = "chat.room";
  const DRAFTS_STORE = "chat.drafts"; // {roomId: text}
  const OUTBOX_STORE = "chat.outbox"; // messages not yet acknowledged, to resend by id
  const TYPING_SEND_EVERY_MS = 3000;
  const TYPING_SHOWN_MS = 5000;
  const HISTORY_PAGE = 50;
  const SEND_TIMEOUT_MS = 10000;
  const NEAR_BOTTOM_PX = 48;
  const LIMITS = { name: 32, room: 64, text: 2000 }; // the server's, in code points
  const BASE_TITLE = document.title;
  const NOTICE_WORDS = {
    joined: "joined the room",
    left: "left the room",
    removed: "was removed by the admin",
    admin: "is now the room's admin",
  };

  const $ = (id) => document.getElementById(id);
  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const button = (text, className, onClick, label) => {
    const node = el("button", className, text);
    node.type = "button";
    if (label) node.setAttribute("aria-label", label);
    node.addEventListener("click", onClick);
    return node;
  };
  const codePoints = (text) => [...text].length;
  const isNarrow = () => matchMedia("(max-width: 900px)").matches;
  const randomHex = (bytes) => {
    const values = new Uint8Array(bytes);
    crypto.getRandomValues(values);
    return Array.from(values, (b) => b.toString(16).padStart(2, "0")).join("");
  };
  const stored = (key, fallback) => {
    try { return JSON.parse(localStorage.getItem(key)) ?? fallback; } catch { return fallback; }
  };
  const store = (key, value) => localStorage.setItem(key, JSON.stringify(value));

  // --- identity: a random 128-bit key that never leaves this browser but on connect ---
  function secretKey() {
    let key = localStorage.getItem(KEY_STORE);
    if (!key || !/^[0-9a-f]{32}$/.test(key)) {
      key = randomHex(16);
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
    online: false,
    attempt: 0,
    reconnectTimer: null,
    retryAt: 0,
    countdown: null,
    pending: new Map(), // ref -> what the request was for
    typingSentAt: 0,
    wantedRoom: new URLSearchParams(location.search).get("room"),
    invite: null, // {roomId, name, memberCount} or {roomId, missing: true}
    lost: [], // [{name, text}] rooms that vanished from the server with unsent text
    editing: null, // messageId being edited in the open room
    focusAfter: null, // what to focus when a list update removes the focused element
    notice: null, // {scope}
    atBottom: true, // the reader is at the latest message
    joinPreviewFor: null,
  };
  const outbox = new Map(stored(OUTBOX_STORE, []).map((entry) => [entry.messageId, entry]));
  const drafts = stored(DRAFTS_STORE, {});

  function room(roomId) {
    let r = state.rooms.get(roomId);
    if (!r) {
      r = {
        roomId, name: roomId, role: "member", status: "pending", members: [],
        membersVersion: -1, memberParts: new Map(), // version -> {part: members[]}
        messages: new Map(), unread: 0, older: null, more: false, typing: new Map(),
        lastMessageAt: new Map(), activityAt: "", lastMessage: null, newFrom: null, newBelow: 0,
      };
      state.rooms.set(roomId, r);
    }
    return r;
  }

  // The server's view of a room (roomId, name, role, status) onto our local state.
  function adopt(view) {
    const r = room(view.roomId);
    if (r.status !== view.status) clearNotice(`room:${view.roomId}`);
    Object.assign(r, { name: view.name, role: view.role, status: view.status });
    if (view.activityAt && view.activityAt > r.activityAt) r.activityAt = view.activityAt;
    if (view.lastMessage !== undefined) r.lastMessage = view.lastMessage;
    if (!r.activityAt) r.activityAt = new Date().toISOString();
    return r;
  }

  // --- the connection ---
  function connect() {
    clearTimeout(state.reconnectTimer);
    clearInterval(state.countdown);
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
      goOffline();
      if (event.code === 1001) state.attempt = 0; // idle timeout or lifetime: come right back
      const delay = Math.min(30000, 1000 * 2 ** state.attempt) * (0.5 + Math.random() / 2);
      state.attempt += 1;
      state.retryAt = Date.now() + delay;
      state.reconnectTimer = setTimeout(connect, delay);
      const tick = () => {
        const left = Math.max(1, Math.ceil((state.retryAt - Date.now()) / 1000));
        setConnection("offline", `Offline — retrying in ${left} s`);
      };
      tick();
      state.countdown = setInterval(tick, 1000);
    });
  }

  function goOffline() {
    state.online = false;
    for (const [ref, pending] of state.pending) {
      // Unanswered sends go again, with the same id, once connected: never twice stored.
      if (pending.messageId) clearTimeout(pending.timer);
      state.pending.delete(ref);
    }
    document.body.classList.add("offline");
    render();
  }

  // Sends a request; false (and says so where the user acted) when not connected.
  function send(action, payload = {}, context = {}) {
    if (!state.socket || state.socket.readyState !== WebSocket.OPEN) {
      const text = "You're offline, so that wasn't sent. Try again when the connection is back.";
      if (context.form) showFormError(context.form, text, "connection");
      else if (action !== "typing") showNotice(text, "error", "connection");
      return false;
    }
    const ref = randomHex(4);
    state.pending.set(ref, context);
    state.socket.send(JSON.stringify({ action, ref, ...payload }));
    return true;
  }

  function setConnection(kind, text) {
    const pill = $("connection");
    pill.hidden = false;
    pill.textContent = text;
    pill.className = `pill ${kind}`;
  }

  // --- events from the server ---
  const handlers = {
    rooms(data) {
      state.attempt = 0;
      state.online = true;
      clearInterval(state.countdown);
      document.body.classList.remove("offline");
      clearNotice("connection");
      state.me = { userId: data.userId, name: data.name };
      setConnection("online", "Online");
      $("whoami").textContent = data.name;
      $("whoami").title = data.name;
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
      for (const [id, r] of [...state.rooms]) if (!seen.has(id)) vanished(r);
      for (const entry of outbox.values()) {
        const r = state.rooms.get(entry.roomId);
        if (r && r.status === "approved" && !entry.failed) transmit(entry);
      }
      if (state.wantedRoom) {
        const wanted = state.wantedRoom;
        state.wantedRoom = null;
        if (state.rooms.has(wanted)) select(wanted);
        else invite(wanted);
      } else if (!state.current) {
        const last = localStorage.getItem(LAST_ROOM_STORE);
        if (last && state.rooms.has(last)) select(last, { focus: false });
      }
      render();
    },
    roomCreated(data) {
      const r = adopt(data.room);
      r.activityAt = data.room.createdAt;
      if (!data.ref) { render(); return; } // created in another tab of ours
      $("create-input").value = "";
      updateCounter($("create-input"), "create-count");
      select(r.roomId);
    },
    joinRequested(data) {
      const r = adopt(data.room);
      r.activityAt = new Date().toISOString();
      if (!data.ref) { render(); return; } // asked from another tab of ours
      $("join-input").value = "";
      $("join-preview").textContent = "";
      state.invite = null;
      select(r.roomId);
    },
    joinRequest(data) {
      const r = room(data.roomId);
      const text = `${label(r, data.user.userId, data.user.name)} asks to join ${data.roomName}.`;
      if (state.current !== r.roomId) showNotice(text, "info", `room:${r.roomId}`);
      if (document.visibilityState === "hidden" && "Notification" in window
          && Notification.permission === "granted") {
        new Notification(text, { tag: `${data.roomId}:${data.user.userId}` });
      }
      render();
    },
    joinDecision(data) {
      const r = adopt(data.room); // room.status is the decision
      if (data.status === "approved") {
        send("getMembers", { roomId: r.roomId });
        send("getHistory", { roomId: r.roomId, limit: HISTORY_PAGE });
        if (state.current !== r.roomId) showNotice(`You're in: ${r.name}.`, "info", `room:${r.roomId}`);
      } else if (state.current !== r.roomId) {
        showNotice(`Your request to join ${r.name} was declined.`, "error", `room:${r.roomId}`);
      }
      render();
    },
    joinDecided() {},
    members(data) {
      // Lists can cross (two changes at once): the highest version is the newest. A long
      // list comes in parts; it replaces ours once all of them are here.
      const r = room(data.roomId);
      const version = data.version ?? 0;
      if (version < r.membersVersion) return;
      const parts = r.memberParts.get(version) || new Map();
      parts.set(data.part ?? 1, data.members);
      r.memberParts.set(version, parts);
      if (parts.size < (data.parts ?? 1)) return;
      for (const v of [...r.memberParts.keys()]) if (v <= version) r.memberParts.delete(v);
      r.membersVersion = version;
      r.members = [...parts.entries()].sort((a, b) => a[0] - b[0]).flatMap(([, page]) => page);
      const me = state.me && r.members.find((m) => m.userId === state.me.userId);
      if (me) r.role = me.role; // a hand-over changes roles
      render();
    },
    message(data) {
      addMessages(data.message.roomId, [data.message], true);
    },
    messageUpdated(data) {
      addMessages(data.message.roomId, [data.message], false);
    },
    messageSent(data) {
      const pending = data.ref && state.pending.get(data.ref);
      if (!pending || !pending.messageId) return;
      clearTimeout(pending.timer);
      outbox.delete(pending.messageId);
      saveOutbox();
      const r = room(data.roomId);
      const m = r.messages.get(pending.messageId);
      if (m && m.local) {
        // A repeat of a message stored earlier (its reply was lost): the server's time.
        r.messages.set(m.messageId, { ...m, local: undefined, error: undefined, sentAt: data.sentAt });
        noteActivity(r, r.messages.get(m.messageId));
      }
      renderConversationOf(r.roomId);
      renderRooms();
    },
    messageEdited() {
      state.editing = null;
      renderConversationOf(state.current);
      if (document.activeElement === document.body) $("messages").focus();
    },
    messageDeleted() {},
    memberRemoved() {},
    adminTransferred() {},
    removed(data) {
      forget(data.roomId);
      showNotice(`The admin removed you from ${data.roomName}.`, "error");
    },
    roomInfo(data) {
      const pending = data.ref && state.pending.get(data.ref);
      if (pending && pending.preview) {
        if ($("join-input").value.trim().toLowerCase() === data.roomId) {
          $("join-preview").textContent = `${data.name} · ${plural(data.memberCount, "member")}`;
        }
        return;
      }
      state.invite = { roomId: data.roomId, name: data.name, memberCount: data.memberCount };
      renderLobby();
      $("invite-ask").focus();
    },
    history(data) {
      const r = room(data.roomId);
      const newest = data.before === undefined || data.before === null;
      const overlaps = data.messages.some((m) => r.messages.has(m.messageId));
      if (!newest || !r.loaded || (!overlaps && data.more)) {
        // An older page, a first load, or a catch-up after a long drop that left a gap:
        // "Load older" continues from this page, and de-duplication fills the gap.
        r.older = data.cursor;
        r.more = data.more;
      }
      r.loaded = true;
      addMessages(data.roomId, data.messages, false);
    },
    typing(data) {
      const r = room(data.roomId);
      // A notice can overtake nothing but may trail the message it announced.
      if (Date.now() - (r.lastMessageAt.get(data.userId) || 0) < 1500) return;
      r.typing.set(data.userId, { name: label(r, data.userId, data.name), until: Date.now() + TYPING_SHOWN_MS });
      renderTyping();
      setTimeout(renderTyping, TYPING_SHOWN_MS + 50);
    },
    left(data) {
      forget(data.roomId);
    },
    error(data) {
      const pending = data.ref && state.pending.get(data.ref);
      const text = friendly(data);
      if (pending && pending.messageId) failed(pending, text);
      else if (pending && pending.preview) $("join-preview").textContent = text;
      else if (pending && pending.invite) {
        state.invite = { roomId: pending.invite, missing: true };
        renderLobby();
      } else if (pending && pending.form) showFormError(pending.form, text);
      else showNotice(text);
    },
  };

  function handle(data) {
    if (data.ref) {
      const pending = state.pending.get(data.ref);
      if (pending && pending.form && data.type !== "error") clearFormError(pending.form);
    }
    const handler = handlers[data.type];
    if (handler) handler(data);
    else if (data.message === "Internal server error" || data.message === "Forbidden") {
      showNotice("The server could not handle that. Please try again.");
    }
    if (data.ref) state.pending.delete(data.ref);
  }

  // A room we knew is not on the server any more (it was reset): say so, keep the text.
  function vanished(r) {
    const unsent = [...outbox.values()].filter((e) => e.roomId === r.roomId).map((e) => e.text);
    if (drafts[r.roomId]) unsent.push(drafts[r.roomId]);
    if (r.roomId === state.current || unsent.length) {
      state.lost.push({ name: r.name, text: unsent.join("\n\n") });
    }
    forget(r.roomId);
  }

  function forget(roomId) {
    state.rooms.delete(roomId);
    for (const entry of [...outbox.values()]) if (entry.roomId === roomId) outbox.delete(entry.messageId);
    saveOutbox();
    delete drafts[roomId];
    store(DRAFTS_STORE, drafts);
    clearNotice(`room:${roomId}`);
    if (state.current === roomId) {
      state.current = null;
      state.editing = null;
      render();
      focusLobby();
    } else render();
  }

  function invite(roomId) {
    state.invite = { roomId, loading: true };
    $("join-input").value = roomId;
    send("getRoom", { roomId }, { invite: roomId });
    renderLobby();
  }

  // --- messages: the outbox, sending, and what arrives ---
  function saveOutbox() {
    store(OUTBOX_STORE, [...outbox.values()].map(({ roomId, messageId, text, at, failed }) =>
      ({ roomId, messageId, text, at, failed })));
  }

  function sendText(roomId, text) {
    const entry = { roomId, messageId: randomHex(8), text, at: new Date().toISOString() };
    outbox.set(entry.messageId, entry);
    saveOutbox();
    transmit(entry); // shows it as sending, too
    renderConversation({ stick: true });
    renderRooms();
  }

  function localMessage(entry, status) {
    return {
      roomId: entry.roomId, messageId: entry.messageId, userId: state.me ? state.me.userId : "",
      name: state.me ? state.me.name : "", text: entry.text, sentAt: entry.at, kind: "text",
      local: status,
    };
  }

  // (Re)sends an outbox entry with its own id: the server stores it at most once.
  function transmit(entry) {
    const r = room(entry.roomId);
    entry.failed = false;
    r.messages.set(entry.messageId, localMessage(entry, "sending"));
    if (!state.online) return; // sent again when the connection is back
    const context = { messageId: entry.messageId, roomId: entry.roomId };
    if (send("sendMessage", { roomId: entry.roomId, messageId: entry.messageId, text: entry.text }, context)) {
      context.timer = setTimeout(() => failed(context, "No answer from the server."), SEND_TIMEOUT_MS);
    }
  }

  function failed(context, reason) {
    clearTimeout(context.timer);
    const entry = outbox.get(context.messageId);
    if (!entry) return;
    entry.failed = true;
    saveOutbox();
    const r = room(context.roomId);
    r.messages.set(entry.messageId, { ...localMessage(entry, "failed"), error: reason });
    renderConversationOf(r.roomId);
  }

  function addMessages(roomId, messages, live) {
    const r = room(roomId);
    let added = 0;
    for (const m of messages) {
      const known = r.messages.get(m.messageId);
      if (!known || known.local || known.editedAt !== m.editedAt || known.deletedAt !== m.deletedAt) {
        if (!known) added += 1;
        r.messages.set(m.messageId, m);
        if (known && known.local) {
          outbox.delete(m.messageId);
          saveOutbox();
        }
      }
      noteActivity(r, m);
      r.typing.delete(m.userId);
      if (live) r.lastMessageAt.set(m.userId, Date.now());
    }
    const fromOthers = messages.filter((m) => !state.me || m.userId !== state.me.userId);
    if (live && added && fromOthers.length && (state.current !== roomId || document.hidden)) {
      r.unread += fromOthers.length;
    }
    if (roomId === state.current) { renderConversation({}); renderTyping(); }
    renderRooms();
    renderTitle();
  }

  function noteActivity(r, m) {
    if (m.sentAt >= r.activityAt) r.activityAt = m.sentAt;
    if (!r.lastMessage || m.sentAt > r.lastMessage.sentAt
        || (m.sentAt === r.lastMessage.sentAt && m.messageId >= r.lastMessage.messageId)
        || m.messageId === r.lastMessage.messageId) {
      r.lastMessage = m;
    }
  }

  // --- rendering ---
  // Brings parent's children in line with items ({key, sig, create, update}): nodes are
  // kept by key and changed only when their signature changes, so focus stays put and a
  // live region announces only what is new.
  function reconcile(parent, items) {
    const existing = new Map();
    for (const child of parent.children) existing.set(child.dataset.key, child);
    const wanted = new Set(items.map((item) => item.key));
    const active = document.activeElement;
    const hadFocus = parent.contains(active) && active !== parent;
    let focusIndex = -1;
    [...parent.children].forEach((child, i) => { if (child.contains(active)) focusIndex = i; });
    for (const [key, child] of existing) if (!wanted.has(key)) child.remove();
    let cursor = parent.firstElementChild;
    for (const item of items) {
      let node = existing.get(item.key);
      if (!node) {
        node = item.create();
        node.dataset.key = item.key;
      }
      if (node.sig !== item.sig) {
        item.update(node);
        node.sig = item.sig;
      }
      if (node !== cursor) parent.insertBefore(node, cursor);
      else cursor = cursor.nextElementSibling;
    }
    if (hadFocus && !parent.contains(document.activeElement)) refocus(parent, focusIndex);
  }

  // What had the focus went away with the list's update: put it somewhere nearby that
  // makes sense, never on <body>.
  function refocus(parent, index) {
    const fallback = state.focusAfter;
    state.focusAfter = null;
    if (fallback) { fallback(); return; }
    const focusable = "button:not([disabled]), a[href], textarea, input, [tabindex]";
    const near = parent.children[Math.min(index, parent.children.length - 1)];
    const target = (near && near.querySelector(focusable)) || parent.closest("[tabindex]")
      || parent.closest("section, aside, nav, main").querySelector("h2, h3");
    if (!target) return;
    if (!target.matches(focusable)) target.tabIndex = -1;
    target.focus();
  }

  function render() {
    renderRooms();
    renderRoom();
    renderConversation({});
    renderLobby();
    renderTitle();
    renderBadges();
  }

  function sortedRooms() {
    return [...state.rooms.values()].sort((a, b) =>
      a.activityAt === b.activityAt ? a.name.localeCompare(b.name) : b.activityAt.localeCompare(a.activityAt));
  }

  function pendingRequests(r) {
    return r.role === "admin" ? r.members.filter((m) => m.status === "pending") : [];
  }

  function preview(r) {
    if (r.status === "pending") return "Waiting for the admin to let you in";
    if (r.status === "rejected") return "Your request was declined";
    const m = r.lastMessage;
    if (!m) return "No messages yet";
    const who = state.me && m.userId === state.me.userId ? "You" : m.name;
    if (m.kind !== "text") return `${who} ${NOTICE_WORDS[m.kind] || ""}`;
    return `${who}: ${m.deletedAt ? "message deleted" : m.text.replace(/\s+/g, " ")}`;
  }

  function renderRooms() {
    const items = sortedRooms().map((r) => {
      const requests = pendingRequests(r).length;
      const current = r.roomId === state.current;
      const tag = r.status !== "approved" ? r.status : r.role === "admin" ? "admin" : "";
      const text = preview(r);
      return {
        key: r.roomId,
        sig: JSON.stringify([r.name, current, tag, r.unread, requests, text]),
        create() {
          const item = el("li");
          const choose = button("", "room-item", () => select(r.roomId, { from: "list" }));
          item.append(choose);
          return item;
        },
        update(item) {
          const choose = item.firstElementChild;
          choose.setAttribute("aria-current", String(current));
          const top = el("span", "room-line");
          top.append(el("span", "room-name", r.name));
          if (tag) top.append(el("span", `tag ${tag}`, tag));
          const count = r.unread + requests;
          if (count) {
            const badge = el("span", "badge", String(count));
            badge.setAttribute("aria-hidden", "true");
            const words = requests ? `${count} new (${requests} waiting to join)` : `${count} unread`;
            top.append(badge, el("span", "visually-hidden", `, ${words}`));
          }
          choose.replaceChildren(top, el("span", "room-preview", text));
        },
      };
    });
    reconcile($("room-list"), items);
    $("no-rooms").hidden = state.rooms.size > 0;
  }

  function renderTitle() {
    let count = 0;
    for (const r of state.rooms.values()) count += r.unread + pendingRequests(r).length;
    document.title = count ? `(${count}) ${BASE_TITLE}` : BASE_TITLE;
  }

  function renderBadges() {
    // On a phone the lists are in closed drawers: their buttons carry the counts.
    let elsewhere = 0;
    for (const r of state.rooms.values()) {
      if (r.roomId !== state.current) elsewhere += r.unread + pendingRequests(r).length;
    }
    const r = state.current && state.rooms.get(state.current);
    const here = r ? pendingRequests(r).length : 0;
    setBadge($("menu-badge"), elsewhere);
    setBadge($("members-badge"), here);
    $("members-badge-words").textContent = here ? `, ${here} waiting to join` : "";
    $("menu-toggle").setAttribute("aria-label", elsewhere ? `Show rooms (${elsewhere} new)` : "Show rooms");
  }

  function setBadge(badge, count) {
    badge.hidden = !count;
    badge.textContent = count ? String(count) : "";
  }

  function select(roomId, { focus = true, from = "" } = {}) {
    const changed = state.current !== roomId;
    if (state.current && changed) saveDraft();
    if (changed) {
      clearNotice(`room:${state.current}`);
      state.editing = null;
    }
    state.current = roomId;
    state.invite = null;
    localStorage.setItem(LAST_ROOM_STORE, roomId);
    const r = room(roomId);
    r.unread = 0;
    clearNotice(`room:${roomId}`);
    if (changed) {
      r.newFrom = null;
      r.newBelow = 0;
      $("message-input").value = drafts[roomId] || "";
      updateCounter($("message-input"), "message-count");
      $("message-list").replaceChildren();
    }
    const panelOpen = $("sidebar").classList.contains("open");
    closePanels(); // on a narrow screen, show the room rather than the panel it was chosen in
    render();
    renderConversation({ stick: true });
    if (!focus) return;
    // Keep the keyboard where it was when that is still visible; else the room's heading.
    if (from === "list" && !panelOpen) return;
    if (!isNarrow() && r.status === "approved") $("message-input").focus();
    else $("room-title").focus();
  }

  function renderRoom() {
    const r = state.current && state.rooms.get(state.current);
    $("room-view").hidden = !r;
    $("lobby").hidden = Boolean(r);
    if (!r) { renderMembers(null); return; }
    $("room-title").textContent = r.name;
    $("room-id").textContent = r.roomId;
    $("leave").hidden = r.role === "admin" || r.status === "rejected";
    $("leave").textContent = r.status === "pending" ? "Withdraw request" : "Leave";
    const approved = r.status === "approved";
    $("copy-link").hidden = !approved;
    $("copy-id").hidden = !approved;
    $("members-toggle").hidden = !approved;
    renderStatus(r);
    $("share-hint").hidden = !(approved && r.role === "admin" && r.members.length === 1);
    $("composer").hidden = !approved;
    $("messages").parentElement.hidden = !approved;
    $("typing-line").hidden = !approved;
    const offline = !state.online;
    $("send").disabled = offline;
    $("composer-hint").textContent = offline
      ? "You're offline. Your text stays here; send it when the connection is back." : "";
    renderMembers(r);
    renderRequests(r);
    renderTyping();
  }

  function renderStatus(r) {
    const box = $("room-status");
    box.hidden = r.status === "approved";
    if (box.hidden) return;
    const actions = [];
    if (r.status === "pending") {
      $("room-status-text").textContent =
        "Waiting for the room's admin to approve your request. You'll be let in as soon as they do.";
    } else {
      $("room-status-text").textContent = "The admin declined your request to join this room.";
      actions.push(
        button("Ask again", "primary", () => send("joinRoom", { roomId: r.roomId, op: "request" })),
        button("Remove from my list", "", () => send("leaveRoom", { roomId: r.roomId })),
      );
    }
    if ($("room-status-actions").dataset.status !== r.status) {
      $("room-status-actions").replaceChildren(...actions);
      $("room-status-actions").dataset.status = r.status;
    }
  }

  function renderLobby() {
    const signedIn = Boolean(localStorage.getItem(NAME_STORE));
    const inv = state.invite;
    $("invite").hidden = !(inv && !state.current && signedIn);
    if (inv) {
      if (inv.loading) {
        $("invite-title").textContent = "You're invited";
        $("invite-text").textContent = `Looking up room ${inv.roomId}…`;
      } else if (inv.missing) {
        $("invite-title").textContent = "That room doesn't exist";
        $("invite-text").textContent =
          `There's no room with the id ${inv.roomId}. Check the link with whoever shared it.`;
      } else {
        $("invite-title").textContent = `You're invited to ${inv.name}`;
        $("invite-text").textContent =
          `${inv.name} has ${plural(inv.memberCount, "member")}. Ask to join, and its admin will let you in.`;
      }
      $("invite-ask").hidden = Boolean(inv.loading || inv.missing);
    }
    const lost = state.lost[0];
    $("lost").hidden = !lost;
    if (lost) {
      $("lost-title").textContent = `${lost.name} is gone`;
      $("lost-text").textContent =
        "The server no longer has this room: it may have been reset. Nothing was sent from your unsent text; copy it before you dismiss this.";
      $("lost-draft").value = lost.text;
      $("lost-draft").hidden = !lost.text;
      $("lost-draft").previousElementSibling.hidden = !lost.text;
      $("lost-copy").hidden = !lost.text;
    }
    $("room-empty").hidden = !$("invite").hidden;
  }

  function focusLobby() {
    if (!$("invite").hidden && !$("invite-ask").hidden) $("invite-ask").focus();
    else if (!$("lost").hidden) $("lost-dismiss").focus();
    else if (isNarrow()) $("lobby-rooms").focus();
    else $("create-input").focus();
  }

  // --- the conversation ---
  function renderConversationOf(roomId) {
    if (roomId && roomId === state.current) renderConversation({});
  }

  function dayLabel(date) {
    const today = new Date();
    const yesterday = new Date(today);
    yesterday.setDate(today.getDate() - 1);
    if (date.toDateString() === today.toDateString()) return "Today";
    if (date.toDateString() === yesterday.toDateString()) return "Yesterday";
    const options = { weekday: "long", month: "long", day: "numeric" };
    if (date.getFullYear() !== today.getFullYear()) options.year = "numeric";
    return date.toLocaleDateString([], options);
  }

  function minuteOf(date) {
    return `${date.toDateString()} ${date.getHours()}:${date.getMinutes()}`;
  }

  function entries(r) {
    const sorted = [...r.messages.values()].sort((a, b) =>
      a.sentAt === b.sentAt ? a.messageId.localeCompare(b.messageId) : a.sentAt.localeCompare(b.sentAt));
    const items = [];
    if (r.more) items.push(olderItem(r));
    if (!sorted.length) items.push({ key: "empty", sig: "", create: () => el("li", "system", "No messages yet. Say hello!"), update() {} });
    let day = null;
    let previous = null;
    for (const m of sorted) {
      const date = new Date(m.sentAt);
      if (date.toDateString() !== day) {
        day = date.toDateString();
        const label = dayLabel(date);
        items.push({
          key: `day:${day}`, sig: label,
          create: () => el("li", "day"),
          update: (li) => li.replaceChildren(el("span", "", label)),
        });
        previous = null;
      }
      if (r.newFrom && m.messageId === r.newFrom) {
        items.push({ key: "new", sig: "", create: () => el("li", "new-marker", "New messages"), update() {} });
      }
      const continued = Boolean(previous && previous.kind === "text" && m.kind === "text"
        && previous.userId === m.userId && minuteOf(new Date(previous.sentAt)) === minuteOf(date));
      items.push(m.kind === "text" ? messageItem(r, m, continued) : noticeItem(m));
      previous = m;
    }
    return items;
  }

  function olderItem(r) {
    return {
      key: "older", sig: r.older || "",
      create: () => el("li", "system"),
      update: (li) => li.replaceChildren(button("Load older messages", "small-button", () =>
        send("getHistory", { roomId: r.roomId, before: r.older, limit: HISTORY_PAGE }))),
    };
  }

  function noticeItem(m) {
    const who = state.me && m.userId === state.me.userId ? "You" : m.name;
    const words = NOTICE_WORDS[m.kind] || m.kind;
    const text = who === "You" ? `You ${words.replace(/^was /, "were ").replace(/^is /, "are ")}` : `${who} ${words}`;
    return {
      key: m.messageId, sig: text,
      create: () => el("li", `notice-entry ${m.kind}`),
      update: (li) => li.replaceChildren(el("span", "", text), timeOf(m)),
    };
  }

  function timeOf(m) {
    const date = new Date(m.sentAt);
    const time = el("time", "", date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
    time.dateTime = m.sentAt;
    time.title = date.toLocaleString();
    return time;
  }

  function messageItem(r, m, continued) {
    const mine = Boolean(state.me && m.userId === state.me.userId);
    const editing = state.editing === m.messageId;
    const author = label(r, m.userId, m.name);
    const sig = JSON.stringify([m.text, author, m.editedAt, m.deletedAt, m.local, m.error, continued, mine, editing, state.online]);
    return {
      key: m.messageId, sig,
      create: () => el("li"),
      update(li) {
        li.className = ["message", mine && "mine", continued && "continued", m.local, m.deletedAt && "deleted"]
          .filter(Boolean).join(" ");
        const meta = el("div", continued ? "meta visually-hidden" : "meta");
        meta.append(el("span", "author", mine ? "You" : author), timeOf(m));
        if (editing) { li.replaceChildren(meta, editForm(r, m)); return; }
        const bubble = el("div", "bubble");
        if (m.deletedAt) bubble.textContent = "This message was deleted.";
        else bubble.append(...linkify(m.text));
        const parts = [meta, bubble];
        const foot = el("div", "message-foot");
        if (m.local === "sending") foot.append(el("span", "state", state.online ? "Sending…" : "Waiting for the connection…"));
        if (m.local === "failed") {
          foot.append(
            el("span", "state failed-text", `Not sent: ${m.error}`),
            button("Retry", "small-button", () => { const e = outbox.get(m.messageId); if (e) { transmit(e); renderConversation({}); } }, "Retry sending"),
            button("Discard", "small-button", () => discard(r, m), "Discard this message"),
          );
        }
        if (m.editedAt && !m.deletedAt) foot.append(el("span", "state", "edited"));
        if (mine && !m.local && !m.deletedAt) {
          foot.append(
            button("Edit", "small-button quiet", () => { state.editing = m.messageId; renderConversation({}); }, "Edit your message"),
            button("Delete", "small-button quiet", () => confirmDelete(r, m), "Delete your message"),
          );
        }
        if (foot.childNodes.length) parts.push(foot);
        if (foot.querySelectorAll(".quiet").length === foot.childNodes.length) foot.classList.add("only-actions");
        li.replaceChildren(...parts);
      },
    };
  }

  function editForm(r, m) {
    const form = el("form", "edit-form");
    form.noValidate = true;
    const label = el("label", "visually-hidden", "Edit message");
    const box = el("textarea");
    box.id = `edit-${m.messageId}`;
    label.htmlFor = box.id;
    box.value = m.text;
    box.rows = Math.min(6, m.text.split("\n").length + 1);
    const cancel = () => { state.editing = null; renderConversation({}); $("message-input").focus(); };
    const save = () => {
      const text = box.value.trim();
      if (!text || codePoints(text) > LIMITS.text) {
        showFormError(form, text ? `Messages can be at most ${LIMITS.text} characters.` : "A message can't be empty; delete it instead.");
        return;
      }
      if (text === m.text) { cancel(); return; }
      send("editMessage", { roomId: r.roomId, messageId: m.messageId, text }, { form });
    };
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); save(); }
      if (event.key === "Escape") { event.preventDefault(); event.stopPropagation(); cancel(); }
    });
    form.addEventListener("submit", (event) => { event.preventDefault(); save(); });
    const actions = el("div", "row");
    const saveButton = el("button", "primary small-button", "Save");
    saveButton.type = "submit";
    actions.append(saveButton, button("Cancel", "small-button", cancel));
    form.append(label, box, actions);
    requestAnimationFrame(() => { box.focus(); box.setSelectionRange(box.value.length, box.value.length); });
    return form;
  }

  function discard(r, m) {
    outbox.delete(m.messageId);
    saveOutbox();
    r.messages.delete(m.messageId);
    const input = $("message-input");
    if (!input.value.trim()) { input.value = m.text; updateCounter(input, "message-count"); }
    renderConversation({});
    input.focus();
  }

  async function confirmDelete(r, m) {
    if (await confirmDialog("Delete this message?", "Everyone in the room will see that a message was deleted.", "Delete")) {
      send("deleteMessage", { roomId: r.roomId, messageId: m.messageId });
    }
  }

  // Text with its http(s) links made clickable; everything else stays text.
  function linkify(text) {
    const nodes = [];
    const pattern = /https?:\/\/[^\s<>"]+/gi;
    let last = 0;
    for (const match of text.matchAll(pattern)) {
      let href = match[0].replace(/[.,;:!?)\]}'"]+$/, "");
      let url = null;
      try { url = new URL(href); } catch { url = null; }
      if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) continue;
      if (match.index > last) nodes.push(document.createTextNode(text.slice(last, match.index)));
      const link = el("a", "", href);
      link.href = url.href;
      link.rel = "noopener noreferrer";
      link.target = "_blank";
      nodes.push(link);
      last = match.index + href.length;
    }
    if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
    return nodes;
  }

  function renderConversation({ stick = false }) {
    const r = state.current && state.rooms.get(state.current);
    const box = $("messages"); // the scrolling log; its list holds the entries
    const list = $("message-list");
    if (!r || r.status !== "approved") return;
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < NEAR_BOTTOM_PX;
    // The reader's place: the first entry on screen, and where it is now.
    let anchor = null;
    let anchorTop = 0;
    for (const child of list.children) {
      if (child.offsetTop + child.offsetHeight > box.scrollTop) { anchor = child; anchorTop = child.offsetTop; break; }
    }
    // Entries that arrive below what is shown while the reader is further up are new.
    const shown = [...list.children].map((c) => r.messages.get(c.dataset.key)).filter(Boolean);
    const newest = shown.at(-1);
    if (newest && !stick && !atBottom) {
      const fresh = [...r.messages.values()]
        .filter((m) => later(m, newest) && !list.querySelector(`[data-key="${m.messageId}"]`))
        .sort((a, b) => (later(a, b) ? 1 : -1));
      if (fresh.length) {
        if (!r.newFrom) r.newFrom = fresh[0].messageId;
        r.newBelow += fresh.filter((m) => m.kind === "text").length || fresh.length;
      }
    }
    reconcile(list, entries(r));
    if (stick || atBottom) {
      box.scrollTop = box.scrollHeight;
      r.newBelow = 0;
    } else if (anchor && anchor.isConnected) {
      box.scrollTop += anchor.offsetTop - anchorTop;
    }
    state.atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < NEAR_BOTTOM_PX;
    renderJump(r);
  }

  function later(a, b) {
    return a.sentAt === b.sentAt ? a.messageId > b.messageId : a.sentAt > b.sentAt;
  }

  function renderJump(r) {
    const jump = $("jump");
    jump.hidden = !r.newBelow;
    jump.textContent = r.newBelow ? `${plural(r.newBelow, "new message")} — jump to latest` : "Jump to latest";
  }

  function renderTyping() {
    const r = state.current && state.rooms.get(state.current);
    const now = Date.now();
    const names = r ? [...r.typing.values()].filter((t) => t.until > now).map((t) => t.name) : [];
    const text = names.length === 0 ? "" : names.length === 1
      ? `${names[0]} is typing…` : `${names.slice(0, -1).join(", ")} and ${names.at(-1)} are typing…`;
    if ($("typing-line").textContent !== text) $("typing-line").textContent = text;
  }

  // --- members and requests ---
  function renderRequests(r) {
    const pending = r ? pendingRequests(r) : [];
    $("requests-panel").hidden = !pending.length;
    $("request-count").textContent = pending.length ? String(pending.length) : "";
    $("notify").hidden = !(pending.length && "Notification" in window && Notification.permission === "default");
    const items = pending.map((m) => ({
      key: m.userId,
      sig: JSON.stringify([label(r, m.userId, m.name), m.online]),
      create: () => el("li", "request"),
      update(li) {
        const name = label(r, m.userId, m.name);
        const who = el("span", "who");
        who.append(el("span", "name", name), el("span", "muted small", m.online ? " wants to join · online" : " wants to join · offline"));
        const decide = (op) => () => {
          // The card goes when the decision is made: move on to the next one, or the box.
          state.focusAfter = () => {
            const next = document.querySelector("#requests .approve");
            if (next) next.focus();
            else if (isNarrow()) $("room-title").focus();
            else $("message-input").focus();
          };
          send("joinRoom", { roomId: r.roomId, op, userId: m.userId });
        };
        const actions = el("div", "actions");
        actions.append(
          button("Approve", "approve", decide("approve"), `Approve ${name}`),
          button("Reject", "reject", decide("reject"), `Reject ${name}`),
        );
        li.replaceChildren(who, actions);
      },
    }));
    reconcile($("requests"), items);
  }

  function renderMembers(r) {
    const list = $("member-list");
    if (!r) { reconcile(list, []); return; }
    const admin = r.role === "admin";
    const known = state.online;
    const items = r.members.map((m) => {
      const you = Boolean(state.me && m.userId === state.me.userId);
      const presence = m.status === "pending" ? "pending approval" : !known ? "status unknown while offline" : m.online ? "online" : "offline";
      const manage = admin && !you && m.status === "approved" && m.role !== "admin";
      const shown = label(r, m.userId, m.name);
      return {
        key: m.userId,
        sig: JSON.stringify([shown, m.role, m.status, presence, you, manage]),
        create: () => el("li", "member"),
        update(li) {
          const avatar = el("span", "avatar", initials(m.name));
          avatar.style.background = colour(m.userId);
          avatar.setAttribute("aria-hidden", "true");
          avatar.append(el("span", known && m.online ? "dot on" : known ? "dot" : "dot unknown"));
          const who = el("span", "who");
          const line = el("span", "name-line");
          const name = el("span", "name", shown);
          name.title = `${m.name} (user ${m.userId})`;
          line.append(name);
          if (you) line.append(" ", el("span", "you", "(you)"));
          if (m.role === "admin") line.append(" ", el("span", "role-badge", "admin"));
          who.append(line, el("span", "status", presence));
          li.replaceChildren(avatar, who);
          if (manage) {
            const actions = el("span", "member-actions");
            actions.append(
              button("Make admin", "small-button quiet", () => confirmHandOver(r, m), `Make ${shown} the admin`),
              button("Remove", "small-button quiet danger-text", () => confirmRemove(r, m), `Remove ${shown}`),
            );
            li.append(actions);
          }
          li.setAttribute("aria-label", `${shown}${you ? " (you)" : ""}, ${m.role}, ${m.status}, ${presence}`);
        },
      };
    });
    reconcile(list, items);
  }

  async function confirmRemove(r, m) {
    if (await confirmDialog(`Remove ${m.name}?`, `${m.name} will no longer see or post in ${r.name}. They can ask to join again.`, "Remove")) {
      send("removeMember", { roomId: r.roomId, userId: m.userId });
    }
  }

  async function confirmHandOver(r, m) {
    if (await confirmDialog(`Make ${m.name} the admin?`, `${m.name} will approve requests and manage ${r.name}. You'll be a member, free to leave.`, "Make admin")) {
      send("transferAdmin", { roomId: r.roomId, userId: m.userId });
    }
  }

  // The page's own confirmation: a modal dialog; resolves true when confirmed.
  function confirmDialog(title, text, action) {
    const dialog = $("confirm");
    const opener = document.activeElement;
    $("confirm-title").textContent = title;
    $("confirm-text").textContent = text;
    $("confirm-ok").textContent = action;
    return new Promise((resolve) => {
      const finish = (ok) => {
        dialog.removeEventListener("close", onClose);
        $("confirm-ok").onclick = null;
        $("confirm-cancel").onclick = null;
        if (dialog.open) dialog.close();
        if (opener && opener.isConnected && !opener.closest("[hidden]")) opener.focus();
        resolve(ok);
      };
      const onClose = () => finish(false);
      dialog.addEventListener("close", onClose);
      $("confirm-ok").onclick = () => finish(true);
      $("confirm-cancel").onclick = () => finish(false);
      dialog.showModal();
      $("confirm-cancel").focus();
    });
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
    if (error.code === "NOT_MEMBER") return "You're not a member of that room any more.";
    if (error.code === "RATE_LIMITED") {
      return `You're sending faster than the server takes. Wait ${plural(error.retryAfter || 1, "second")} and try again.`;
    }
    if (error.code === "LIMIT_REACHED") return `${error.message[0].toUpperCase()}${error.message.slice(1)}.`;
    if (error.code === "REPLY_TOO_LARGE") return "The server's answer was too large to send.";
    return error.message;
  }
  // A name, told apart from anyone else in the room who goes by the same one: with the
  // start of the user id, which is theirs alone.
  function label(r, userId, name) {
    const same = (m) => m.userId !== userId && m.name.trim().toLocaleLowerCase() === name.trim().toLocaleLowerCase();
    return r && r.members.some(same) ? `${name} #${userId.slice(1, 5)}` : name;
  }
  function plural(n, word) { return `${n} ${word}${n === 1 ? "" : "s"}`; }
  function initials(name) {
    return name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => [...w][0].toUpperCase()).join("") || "?";
  }
  function colour(id) {
    let h = 0;
    for (const ch of id) h = (h * 31 + ch.charCodeAt(0)) % 360;
    return `hsl(${h} 55% 28%)`; // dark enough for white initials at any hue
  }
  function showNotice(text, kind = "error", scope = null) {
    const notice = $("notice");
    $("notice-text").textContent = text;
    notice.className = kind === "info" ? "notice info" : "notice";
    notice.setAttribute("role", kind === "info" ? "status" : "alert");
    notice.hidden = false;
    state.notice = { scope };
    clearTimeout(state.noticeTimer);
    if (kind === "info") state.noticeTimer = setTimeout(() => { notice.hidden = true; }, 10000);
  }
  // Notices tied to a state go away when that state does.
  function clearNotice(scope) {
    if (state.notice && state.notice.scope === scope) {
      $("notice").hidden = true;
      state.notice = null;
    }
    if (scope === "connection") {
      for (const line of document.querySelectorAll(".field-error[data-scope=connection]")) line.hidden = true;
    }
  }
  function showFormError(form, text, scope = "") {
    let line = form.querySelector(".field-error");
    if (!line) {
      line = el("p", "field-error");
      line.setAttribute("role", "alert");
      const foot = form.querySelector(".field-foot");
      if (foot) foot.prepend(line); else form.append(line);
    }
    line.textContent = text;
    line.dataset.scope = scope;
    line.hidden = false;
  }
  function clearFormError(form) {
    const line = form && form.querySelector(".field-error");
    if (line) line.hidden = true;
  }
  function updateCounter(input, counterId) {
    const counter = $(counterId);
    const limit = Number(counter.dataset.limit);
    const used = codePoints(input.value.trim());
    counter.textContent = used ? `${used} / ${limit}` : "";
    counter.classList.toggle("over", used > limit);
    if (used > limit) counter.textContent = `${used} / ${limit} — ${used - limit} too many`;
  }
  function saveDraft() {
    const text = $("message-input").value;
    if (!state.current) return;
    if (text.trim()) drafts[state.current] = text; else delete drafts[state.current];
    store(DRAFTS_STORE, drafts);
  }
  function closePanels() {
    $("sidebar").classList.remove("open");
    $("members").classList.remove("open");
    $("menu-toggle").setAttribute("aria-expanded", "false");
    $("members-toggle").setAttribute("aria-expanded", "false");
  }
  function togglePanel(panel, toggle, focusTarget) {
    const open = panel.classList.toggle("open");
    toggle.setAttribute("aria-expanded", String(open));
    if (open && focusTarget) requestAnimationFrame(() => focusTarget().focus());
  }
  async function copy(text, node) {
    try {
      await navigator.clipboard.writeText(text);
      const label = node.textContent;
      node.textContent = "Copied ✓";
      setTimeout(() => { node.textContent = label; }, 1500);
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

  function submitOnEnter(input, form) {
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
  }

  $("name-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = $("name-input").value.trim();
    const error = $("name-error");
    // The server's rule: 1–32 characters, no control or invisible formatting characters.
    const invisible = /[\p{Cc}\p{Zl}\p{Zp}]|(?!\u200d)\p{Cf}/u;
    if (!name || codePoints(name) > LIMITS.name || invisible.test(name)) {
      error.textContent = codePoints(name) > LIMITS.name
        ? `Names can be at most ${LIMITS.name} characters.` : "Use 1 to 32 visible characters.";
      error.hidden = false;
      return;
    }
    error.hidden = true;
    localStorage.setItem(NAME_STORE, name);
    start();
    render();
    focusLobby();
  });
  $("name-input").addEventListener("input", () => updateCounter($("name-input"), "name-count"));
  $("sign-out").addEventListener("click", () => {
    localStorage.removeItem(NAME_STORE);
    if (state.socket) { const s = state.socket; state.socket = null; s.close(1000); }
    clearTimeout(state.reconnectTimer);
    clearInterval(state.countdown);
    state.online = false;
    state.rooms.clear();
    state.current = null;
    $("whoami").hidden = true;
    $("connection").hidden = true;
    $("name-input").value = "";
    start();
    render();
  });
  $("create-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = $("create-input").value.trim();
    if (!name) showFormError(event.target, "Give the room a name.");
    else if (codePoints(name) > LIMITS.room) showFormError(event.target, `Room names can be at most ${LIMITS.room} characters.`);
    else send("createRoom", { name }, { form: event.target });
  });
  $("create-input").addEventListener("input", () => updateCounter($("create-input"), "create-count"));
  $("join-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const roomId = $("join-input").value.trim().toLowerCase();
    if (roomId) send("joinRoom", { roomId, op: "request" }, { form: event.target });
  });
  $("join-input").addEventListener("input", () => {
    const roomId = $("join-input").value.trim().toLowerCase();
    $("join-preview").textContent = "";
    if (/^[a-z0-9]{10}$/.test(roomId) && state.online) send("getRoom", { roomId }, { preview: roomId });
  });
  $("invite-ask").addEventListener("click", () => {
    if (state.invite) send("joinRoom", { roomId: state.invite.roomId, op: "request" }, { form: $("join-form") });
  });
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("message-input");
    const text = input.value.replace(/\r\n/g, "\n").trim();
    if (!text || !state.current) return;
    if (codePoints(text) > LIMITS.text) {
      showFormError(event.target, `Messages can be at most ${LIMITS.text} characters.`);
      return;
    }
    if (!state.online) {
      showFormError(event.target, "You're offline. Your text stays here; send it when the connection is back.", "connection");
      return;
    }
    clearFormError(event.target);
    // The box empties at once, so a second press finds nothing to send; the message
    // itself stays on screen (sending, sent, or failed with Retry) until the server has it.
    input.value = "";
    updateCounter(input, "message-count");
    delete drafts[state.current];
    store(DRAFTS_STORE, drafts);
    state.typingSentAt = 0;
    sendText(state.current, text);
  });
  submitOnEnter($("message-input"), $("composer"));
  $("message-input").addEventListener("input", () => {
    updateCounter($("message-input"), "message-count");
    saveDraft();
    const now = Date.now();
    if (state.current && state.online && now - state.typingSentAt > TYPING_SEND_EVERY_MS && $("message-input").value.trim()) {
      state.typingSentAt = now;
      send("typing", { roomId: state.current });
    }
  });
  // A panel appearing above the conversation (a join request) shrinks it: a reader who
  // was at the latest message stays there.
  new ResizeObserver(() => {
    const box = $("messages");
    if (state.atBottom) box.scrollTop = box.scrollHeight;
  }).observe($("messages"));
  $("messages").addEventListener("scroll", () => {
    const list = $("messages");
    state.atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < NEAR_BOTTOM_PX;
    const r = state.current && state.rooms.get(state.current);
    if (r && list.scrollHeight - list.scrollTop - list.clientHeight < NEAR_BOTTOM_PX && r.newBelow) {
      r.newBelow = 0;
      renderJump(r);
    }
  });
  $("jump").addEventListener("click", () => {
    const list = $("messages");
    list.scrollTop = list.scrollHeight;
    const r = state.current && state.rooms.get(state.current);
    if (r) { r.newBelow = 0; renderJump(r); }
    list.focus();
  });
  $("copy-id").addEventListener("click", (event) => copy(state.current, event.currentTarget));
  $("copy-link").addEventListener("click", (event) => copy(inviteLink(state.current), event.currentTarget));
  $("leave").addEventListener("click", async () => {
    const r = state.current && state.rooms.get(state.current);
    if (!r) return;
    const withdraw = r.status === "pending";
    const ok = await confirmDialog(
      withdraw ? `Withdraw your request to join ${r.name}?` : `Leave ${r.name}?`,
      withdraw ? "You can ask again later." : "You'll need the admin's approval to come back.",
      withdraw ? "Withdraw" : "Leave",
    );
    if (ok) send("leaveRoom", { roomId: r.roomId });
  });
  $("notice-close").addEventListener("click", () => { $("notice").hidden = true; state.notice = null; });
  $("notify").addEventListener("click", async () => {
    await Notification.requestPermission();
    render();
  });
  $("lost-copy").addEventListener("click", (event) => copy($("lost-draft").value, event.currentTarget));
  $("lost-dismiss").addEventListener("click", () => {
    state.lost.shift();
    renderLobby();
    focusLobby();
  });
  $("menu-toggle").addEventListener("click", () =>
    togglePanel($("sidebar"), $("menu-toggle"), () => $("create-input")));
  $("lobby-rooms").addEventListener("click", () =>
    togglePanel($("sidebar"), $("menu-toggle"), () => $("create-input")));
  $("members-toggle").addEventListener("click", () =>
    togglePanel($("members"), $("members-toggle"), () => $("members-title")));
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || $("confirm").open) return;
    const wasOpen = $("sidebar").classList.contains("open") ? $("menu-toggle")
      : $("members").classList.contains("open") ? $("members-toggle") : null;
    closePanels();
    if (wasOpen) wasOpen.focus();
  });
  document.addEventListener("visibilitychange", () => {
    const r = state.current && state.rooms.get(state.current);
    if (!document.hidden && r && r.unread) { r.unread = 0; renderRooms(); renderTitle(); }
  });
  window.addEventListener("pagehide", saveDraft);

  start();
  render();
})();

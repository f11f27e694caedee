// The chat client's entry point: the state (state.js) fed by the connection
// (connection.js), the outbox (outbox.js) that sends each room's messages one at a time,
// what is kept in this browser (storage.js), and the page's controls wired to them. The
// views (*-view.js) draw the state; controls.js wires the forms and buttons. No build
// step, no framework: the browser loads these modules as they are.

import { Connection } from "./connection.js";
import * as chrome from "./chrome-view.js";
import { wireControls } from "./controls.js";
import { wireViews } from "./view-actions.js";
import * as talk from "./conversation-view.js";
import { updateCounter } from "./dialogs.js";
import { $, isNarrow } from "./dom.js";
import * as membersView from "./members-view.js";
import { Outbox } from "./outbox.js";
import { clearConnectionErrors, clearFormError, closePanels, grow, showFormError } from "./page.js";
import * as roomsView from "./rooms-view.js";
import { noticesNow, savedOutbox, sortedRooms } from "./selectors.js";
import { initialState, reduce } from "./state.js";
import { KEYS, keep, randomHex, secretKey, signedIn, stored, storedKeys } from "./storage.js";
import { friendly } from "./text.js";

const config = window.CHAT_CONFIG || {};
const HISTORY_PAGE = 50;

let state = initialState({ outbox: stored(KEYS.outbox, []), read: stored(KEYS.read, {}) });
const ui = {
  editing: null, // the message being edited in the open room
  invite: null, // {roomId, name, memberCount} | {roomId, loading} | {roomId, missing}
  wantedRoom: new URLSearchParams(location.search).get("room"),
  now: Date.now(),
  restoring: true, // the first listRooms after loading the page puts the reader back
};
const drafts = stored(KEYS.drafts, {});
let link = { status: "connecting", retryAt: 0, attempt: 0, network: navigator.onLine };
let connection = null;
const outbox = new Outbox({ connection: () => connection, state: () => state, dispatch });
const fresh = new Set(); // rooms caught up on this connection

// --- the state and its rendering ---
let renderQueued = false;

function dispatch(event) {
  const before = state;
  state = reduce(state, event);
  if (state.outbox !== before.outbox) keep(KEYS.outbox, savedOutbox(state));
  if (state.read !== before.read) keep(KEYS.read, state.read);
  if (before.view.current && !state.view.current) afterRoomClosed(before.view.current);
  if (!renderQueued) {
    renderQueued = true;
    queueMicrotask(() => { renderQueued = false; render(); outbox.pump(); });
  }
}

function render() {
  ui.now = Date.now();
  ui.slowUntil = connection ? connection.pausedUntil : 0; // the server asked us to wait
  const room = state.view.current && state.rooms.get(state.view.current);
  chrome.renderConnection(link, ui.now, signedIn());
  chrome.renderWho(state, signedIn());
  chrome.renderNotices(state, ui.now);
  roomsView.render(state);
  chrome.renderRoom(state, room);
  membersView.render(state, room || null);
  talk.render(state, ui);
  chrome.renderLobby(state, ui, signedIn());
  chrome.renderTitle(state);
  chrome.renderBadges(state);
}

// The open room went away (left, removed, or gone from the server).
function afterRoomClosed() {
  ui.editing = null;
  queueMicrotask(focusHome);
}

// --- the connection ---

function connect() {
  const url = () => {
    const u = new URL(config.websocketUrl);
    u.searchParams.set("name", localStorage.getItem(KEYS.name));
    u.searchParams.set("key", secretKey());
    return u.toString();
  };
  connection = new Connection({
    url,
    WebSocket,
    clock: { now: () => Date.now(), setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (t) => clearTimeout(t), random: Math.random },
    storage: { get: (key) => stored(key, null), set: keep, keys: storedKeys, remove: (key) => localStorage.removeItem(key) },
    on: {
      open: () => connection.request("listRooms", {}, { hello: true }, "background"),
      event: onServer,
      status: (info) => {
        link = info;
        if (info.status !== "online") {
          fresh.clear();
          dispatch({ action: "connection", status: info.status });
        }
        render();
      },
      dropped: () => outbox.dropped(),
    },
  });
  connection.start();
}

function request(action, payload, context = {}) {
  const ref = connection && connection.request(action, payload, context, "action");
  if (ref) return true;
  const text = "You're offline, so that wasn't sent. Try again when the connection is back.";
  if (context.form) showFormError(context.form, text, "connection");
  else dispatch({ action: "noticed", notice: { scope: "offline", kind: "error", text, at: Date.now() } });
  return false;
}

function onServer(data, context = {}, action = "") {
  const at = Date.now();
  const event = { ...data, at, iso: new Date(at).toISOString(), drafts };
  if (context.form && data.type !== "error") clearFormError(context.form);
  if (data.type === "error") { onError(data, context, action); return; }
  if (data.message && !data.type) { // from the gateway itself
    dispatch({ action: "noticed", notice: { scope: "server", kind: "error", at, text: "The server could not handle that. Please try again." } });
    return;
  }
  if (data.type === "messageSent") outbox.settled(data.messageId);
  dispatch(event);
  const after = AFTER[data.type];
  if (after) after(data, context);
}

// What the page does once an event is in the state.
const AFTER = {
  rooms() {
    connection.connected();
    dispatch({ action: "dismissed", scope: "offline" }); // that was then
    clearConnectionErrors();
    catchUp();
    if (ui.wantedRoom) {
      const wanted = ui.wantedRoom;
      ui.wantedRoom = null;
      if (state.rooms.has(wanted)) { forgetInvite(); select(wanted); } else invite(wanted);
    } else if (ui.restoring && !state.view.current) {
      const last = localStorage.getItem(KEYS.room);
      if (last && state.rooms.has(last)) select(last, { focus: false });
    }
    if (ui.restoring) {
      ui.restoring = false;
      // After a reload, the keyboard starts where the reader was, never on <body>.
      queueMicrotask(() => { if (document.activeElement === document.body) focusHome(); });
    }
  },
  roomCreated(data, context) {
    if (!context.form) return; // created in another tab of ours
    $("create-input").value = "";
    updateCounter($("create-input"), $("create-count"));
    select(data.room.roomId);
  },
  joinRequested(data, context) {
    if (!context.form) return; // asked from another tab of ours
    $("join-input").value = "";
    $("join-preview").textContent = "";
    ui.invite = null;
    forgetInvite();
    select(data.room.roomId);
  },
  joinDecision(data) {
    if (data.status === "approved") catchUpRoom(data.roomId, "action");
  },
  joinRequest(data) {
    if (document.visibilityState === "hidden" && "Notification" in window && Notification.permission === "granted") {
      new Notification(`${data.user.name} asks to join ${data.roomName}.`, { tag: `${data.roomId}:${data.user.userId}` });
    }
  },
  history(data) {
    fresh.add(data.roomId);
  },
  roomInfo(data, context) {
    if (context.preview) {
      if ($("join-input").value.trim().toLowerCase() === data.roomId) {
        $("join-preview").textContent = `${data.name} · ${data.memberCount} member${data.memberCount === 1 ? "" : "s"}`;
      }
      return;
    }
    ui.invite = { roomId: data.roomId, name: data.name, memberCount: data.memberCount };
    render();
    $("invite-ask").focus();
  },
  messageEdited() {
    ui.editing = null;
    render();
    talk.focusList();
  },
  renamed(data, context) {
    localStorage.setItem(KEYS.name, data.name);
    if (context.rename) context.rename(null);
  },
};

function onError(data, context, action) {
  const text = friendly(data, action);
  if (action === "sendMessage" && context.messageId) {
    outbox.settled(context.messageId);
    if (data.code === "RATE_LIMITED") {
      const until = Date.now() + (data.retryAfter || 1) * 1000 + 200;
      dispatch({ action: "held", messageId: context.messageId, until, reason: text });
      setTimeout(outbox.pump, until - Date.now());
    } else dispatch({ action: "sendFailed", messageId: context.messageId, reason: text });
    return;
  }
  if (action === "ping" || context.hello) return;
  // A frame sent without a ref (typing) refused for the rate: the connection waits for the window.
  if (!data.ref && data.code === "RATE_LIMITED") { render(); return; }
  if (context.preview) { $("join-preview").textContent = text; return; }
  if (context.invite) { ui.invite = { roomId: context.invite, missing: true }; render(); return; }
  if (context.rename) { context.rename(text); return; }
  if (context.form) { showFormError(context.form, text); return; }
  if (context.catchUp) return; // a room we are no longer in: its removal says so
  dispatch({ action: "noticed", notice: { scope: "error", kind: "error", text, at: Date.now() } });
}

// After (re)connecting: every room's members and newest history, within the rates —
// the open room first, then the rooms whose requests wait for us, then the rest by activity.
function catchUp() {
  const rooms = sortedRooms(state).filter((r) => r.status === "approved");
  const open = rooms.filter((r) => r.roomId === state.view.current);
  const admin = rooms.filter((r) => r.role === "admin" && r.roomId !== state.view.current);
  for (const r of open) catchUpRoom(r.roomId, "background");
  for (const r of admin) connection.request("getMembers", { roomId: r.roomId }, { catchUp: r.roomId }, "background");
  for (const r of rooms) {
    if (open.includes(r)) continue;
    connection.request("getHistory", { roomId: r.roomId, limit: HISTORY_PAGE }, { catchUp: r.roomId }, "background");
    if (!admin.includes(r)) connection.request("getMembers", { roomId: r.roomId }, { catchUp: r.roomId }, "background");
  }
}

function catchUpRoom(roomId, kind) {
  connection.request("getHistory", { roomId, limit: HISTORY_PAGE }, { catchUp: roomId }, kind);
  connection.request("getMembers", { roomId }, { catchUp: roomId }, kind);
}

// --- the outbox (outbox.js sends it) ---

function sendText(roomId, text) {
  dispatch({ action: "queued", roomId, messageId: randomHex(8), text, iso: new Date().toISOString() });
  talk.stick();
}

// --- rooms ---

function select(roomId, { focus = true, from = "" } = {}) {
  const changed = state.view.current !== roomId;
  if (state.view.current && changed) saveDraft();
  if (changed) {
    ui.editing = null;
    talk.opened(roomId);
    $("message-input").value = drafts[roomId] || "";
    grow($("message-input"));
    updateCounter($("message-input"), $("message-count"));
  }
  ui.invite = null;
  localStorage.setItem(KEYS.room, roomId);
  dispatch({ action: "opened", roomId });
  // Opened before its catch-up came: ask for it now, ahead of the other rooms.
  const room = state.rooms.get(roomId);
  if (connection && room && room.status === "approved" && !fresh.has(roomId) && connection.waiting) {
    connection.cancel((p) => p.context.catchUp === roomId);
    catchUpRoom(roomId, "action");
  }
  const panelOpen = $("sidebar").classList.contains("open");
  closePanels(); // on a narrow screen, show the room rather than the panel it was chosen in
  render();
  if (!focus) return;
  // Keep the keyboard where it was when that is still visible; else the room's heading.
  if (from === "list" && !panelOpen) return;
  focusRoom(room);
}

function focusRoom(room) {
  if (!isNarrow() && room && room.status === "approved") $("message-input").focus();
  else $("room-title").focus();
}

function invite(roomId) {
  ui.invite = { roomId, loading: true };
  $("join-input").value = roomId;
  request("getRoom", { roomId }, { invite: roomId });
  render();
}

// The invite link has done its work: take it out of the address bar.
function forgetInvite() {
  if (new URLSearchParams(location.search).has("room")) history.replaceState(null, "", location.pathname);
}

function focusHome() {
  const room = state.view.current && state.rooms.get(state.view.current);
  if (room) { focusRoom(room); return; }
  if (!$("invite").hidden && !$("invite-ask").hidden) $("invite-ask").focus();
  else if (!$("lost").hidden) $("lost-dismiss").focus();
  else if (!signedIn()) $("name-input").focus();
  else if (isNarrow()) $("lobby-rooms").focus();
  else $("create-input").focus();
}

// --- helpers for the page ---

function saveDraft() {
  const roomId = state.view.current;
  if (!roomId) return;
  const text = $("message-input").value;
  if (text.trim()) drafts[roomId] = text; else delete drafts[roomId];
  keep(KEYS.drafts, drafts);
}

async function copy(text, node) {
  try {
    await navigator.clipboard.writeText(text);
    const before = node.textContent;
    node.textContent = "Copied ✓";
    setTimeout(() => { node.textContent = before; }, 1500);
  } catch {
    dispatch({ action: "noticed", notice: { scope: "copy", kind: "info", text: `Copy this: ${text}`, at: Date.now(), until: Date.now() + 10000 } });
  }
}

wireViews({
  get state() { return state; },
  ui,
  outbox,
  historyPage: HISTORY_PAGE,
  dispatch,
  focusHome,
  render,
  request,
  select,
});

// --- wiring ---

function start() {
  const name = localStorage.getItem(KEYS.name);
  $("welcome").hidden = Boolean(name);
  $("app").hidden = !name;
  if (!config.websocketUrl) {
    dispatch({ action: "noticed", notice: { scope: "config", kind: "error", at: 0, text: "This page has no config.js with the WebSocket URL. Deploy writes it; run the deploy again." } });
    return;
  }
  if (name) connect();
  else $("name-input").focus();
}

wireControls({
  get state() { return state; },
  get connection() { return connection; },
  ui,
  drafts,
  copy,
  dispatch,
  focusHome,
  render,
  request,
  saveDraft,
  sendText,
  start,
});
document.addEventListener("visibilitychange", () => {
  const visible = document.visibilityState !== "hidden";
  if (connection) connection.visibilityChanged(visible);
  dispatch({ action: "viewed", visible, atBottom: state.view.atBottom });
});
window.addEventListener("online", () => { link = { ...link, network: true }; if (connection) connection.networkChanged(true); render(); });
window.addEventListener("offline", () => { link = { ...link, network: false }; if (connection) connection.networkChanged(false); render(); });
window.addEventListener("pagehide", saveDraft);
// The countdowns (reconnecting, a message held for the rate) and notices that expire.
setInterval(() => {
  if (link.status === "offline" || state.outbox.length || noticesNow(state, Date.now()).length !== state.notices.length
      || [...state.rooms.values()].some((r) => r.typing.size)) render();
}, 1000);

start();
render();

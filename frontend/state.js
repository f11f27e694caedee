// The client's state: a reducer over the server's events (docs/protocol.md §3) and the
// page's own actions; the views read it through selectors.js, and merge.js holds the
// copy-on-write steps. No DOM, no socket, no storage and no clock here (events carry
// `at`, the time they arrived), so Node's test runner checks it all.
//
// reduce(state, event) never changes `state`: it returns a new state that shares what
// didn't change, so a view can tell what did by comparing.

import {
  addMessages, adopt, changeEntry, dropRoom, isReading, newestKey, ownRead, readAll, withNotice,
  withoutNotices, withRoom,
} from "./merge.js";
import { keyOf, label, unreadCount } from "./selectors.js";

const TYPING_SHOWN_MS = 5000;
const TYPING_AFTER_MESSAGE_MS = 1500; // a typing event can trail the message it announced
const INFO_SHOWN_MS = 10000;

/**
 * `outbox`: the messages not yet acknowledged, in the order they were written, as
 * saved ({roomId, messageId, text, at, failed, error}); `read`: per room, the key of
 * the newest entry the reader has seen.
 */
export function initialState({ outbox = [], read = {} } = {}) {
  return {
    me: null, // {userId, name}
    connection: "connecting", // "connecting" | "online" | "offline"
    rooms: new Map(), // roomId -> room
    // Rooms we were removed from or left: their events are dropped until we are approved
    // in them again (a broadcast can be on its way when the removal lands).
    gone: new Map(), // roomId -> "removed" | "left"
    outbox: outbox.map((e) => ({ ...e, status: e.failed ? "failed" : "queued", retryAt: 0 })),
    read: { ...read },
    view: { current: null, visible: true, atBottom: true },
    notices: [], // {id, scope, kind: "info"|"error", text, until}
    lost: [], // {roomId, name, text, why}: unsent text of rooms that went away
  };
}

// --- the events ---

const EVENTS = {
  rooms(state, e) {
    let next = { ...state, me: { userId: e.userId, name: e.name }, connection: "online" };
    const seen = new Set();
    for (const info of e.rooms) {
      seen.add(info.roomId);
      const isNew = !next.rooms.has(info.roomId);
      next = adopt(next, info, e.iso);
      if (isNew && info.status === "approved") {
        next = ownRead(next, info.roomId, info.lastMessage ? keyOf(info.lastMessage) : "");
      }
    }
    for (const roomId of [...next.rooms.keys()]) if (!seen.has(roomId)) {
      next = dropRoom(next, roomId, "vanished", (e.drafts || {})[roomId]);
    }
    return next;
  },
  roomCreated(state, e) {
    const next = adopt(state, e.room, e.iso);
    return ownRead(withRoom(next, e.room.roomId, (r) => { r.activityAt = e.room.createdAt; }), e.room.roomId, "");
  },
  joinRequested(state, e) {
    return adopt(state, { ...e.room, activityAt: e.iso }, e.iso);
  },
  joinDecision(state, e) {
    let next = adopt(state, e.room, e.iso);
    if (e.status === "approved" && next.read[e.roomId] === undefined) {
      next = { ...next, read: { ...next.read, [e.roomId]: null } }; // the first history we get is old
    }
    if (next.view.current === e.roomId) return next;
    const name = e.room.name;
    return withNotice(next, e.status === "approved"
      ? { scope: `decision:${e.roomId}`, kind: "info", text: `You're in: ${name}.`, at: e.at, until: e.at + INFO_SHOWN_MS }
      : { scope: `decision:${e.roomId}`, kind: "error", text: `Your request to join ${name} was declined.`, at: e.at });
  },
  joinRequest(state, e) {
    const room = state.rooms.get(e.roomId);
    if (!room || state.view.current === e.roomId) return state;
    const who = label(room, e.user.userId, e.user.name);
    return withNotice(state, {
      scope: `request:${e.roomId}:${e.user.userId}`, kind: "info", at: e.at, until: e.at + INFO_SHOWN_MS,
      text: `${who} asks to join ${e.roomName}.`, version: room.membersVersion,
    });
  },
  members(state, e) {
    // Lists can cross (two changes at once): the highest version is the newest. A long
    // list comes in parts; it replaces ours once all of them are here.
    if (state.gone.has(e.roomId) || !state.rooms.has(e.roomId)) return state;
    const version = e.version ?? 0;
    const known = state.rooms.get(e.roomId);
    if (version < known.membersVersion) return state;
    let complete = null;
    let next = withRoom(state, e.roomId, (room) => {
      room.memberParts = new Map(room.memberParts);
      const parts = new Map(room.memberParts.get(version) || []);
      parts.set(e.part ?? 1, e.members);
      room.memberParts.set(version, parts);
      if (parts.size < (e.parts ?? 1)) return;
      for (const v of [...room.memberParts.keys()]) if (v <= version) room.memberParts.delete(v);
      room.membersVersion = version;
      room.members = [...parts.entries()].sort((a, b) => a[0] - b[0]).flatMap(([, list]) => list);
      const me = state.me && room.members.find((m) => m.userId === state.me.userId);
      if (me) room.role = me.role; // a hand-over changes roles
      complete = room;
    });
    if (!complete) return next;
    // A request that was withdrawn or decided takes its notice with it.
    const pending = new Set(complete.members.filter((m) => m.status === "pending").map((m) => m.userId));
    next = withoutNotices(next, (n) => n.scope.startsWith(`request:${e.roomId}:`)
      && (n.version === undefined || version > n.version) && !pending.has(n.scope.split(":")[2]));
    return next;
  },
  message(state, e) {
    return addMessages(state, e.message.roomId, [e.message], { live: true, at: e.at });
  },
  messageUpdated(state, e) {
    return addMessages(state, e.message.roomId, [e.message], { at: e.at });
  },
  history(state, e) {
    if (state.gone.has(e.roomId) || !state.rooms.has(e.roomId)) return state;
    const room = state.rooms.get(e.roomId);
    const newest = e.before === undefined || e.before === null;
    const overlaps = e.messages.some((m) => room.messages.has(m.messageId));
    let next = withRoom(state, e.roomId, (r) => {
      if (!newest || !r.loaded || (!overlaps && e.more)) {
        // An older page, a first load, or a catch-up after a long drop that left a gap:
        // "Load older" continues from this page, and merging by id fills the gap.
        r.older = e.cursor;
        r.more = e.more;
      }
      r.loaded = true;
    });
    next = addMessages(next, e.roomId, e.messages, { at: e.at });
    if (next.read[e.roomId] === null) next = { ...next, read: { ...next.read, [e.roomId]: newestKey(next.rooms.get(e.roomId)) } };
    return next;
  },
  messageSent(state, e) {
    const entry = state.outbox.find((x) => x.messageId === e.messageId);
    let next = { ...state, outbox: state.outbox.filter((x) => x.messageId !== e.messageId) };
    const room = next.rooms.get(e.roomId);
    if (entry && room && !room.messages.has(e.messageId) && state.me) {
      // Stored, but its broadcast didn't reach us (it was lost with a connection).
      next = addMessages(next, e.roomId, [{
        roomId: e.roomId, messageId: e.messageId, userId: state.me.userId, name: state.me.name,
        text: entry.text, sentAt: e.sentAt, kind: "text",
      }], { at: e.at });
    }
    return next;
  },
  typing(state, e) {
    const room = state.rooms.get(e.roomId);
    if (!room || state.gone.has(e.roomId)) return state;
    if (e.at - (room.lastSaid.get(e.userId) ?? -Infinity) < TYPING_AFTER_MESSAGE_MS) return state;
    // A typist who isn't an approved member of the newest list (removed meanwhile) isn't shown.
    if (room.membersVersion >= 0 && !room.members.some((m) => m.userId === e.userId && m.status === "approved")) return state;
    return withRoom(state, e.roomId, (r) => {
      r.typing = new Map(r.typing).set(e.userId, { name: e.name, until: e.at + TYPING_SHOWN_MS });
    });
  },
  left(state, e) {
    return dropRoom(state, e.roomId, "left");
  },
  removed(state, e) {
    const next = dropRoom(state, e.roomId, "removed", (e.drafts || {})[e.roomId]);
    return withNotice(next, { scope: `room:${e.roomId}`, kind: "error", at: e.at, text: `The admin removed you from ${e.roomName}.` });
  },
  renamed(state, e) {
    return state.me ? { ...state, me: { ...state.me, name: e.name } } : state;
  },
};

// --- the page's own actions ---

const ACTIONS = {
  connection(state, a) {
    if (a.status === "online") return { ...state, connection: "online" };
    // Whatever was on its way goes again, with the same id, once connected.
    const outbox = state.outbox.map((e) => (e.status === "sending" ? { ...e, status: "queued" } : e));
    return { ...state, connection: a.status, outbox };
  },
  queued(state, a) {
    const entry = { roomId: a.roomId, messageId: a.messageId, text: a.text, at: a.iso, status: "queued", retryAt: 0 };
    let next = { ...state, outbox: [...state.outbox, entry] };
    if (next.view.current === a.roomId) next = readAll(next, a.roomId);
    return next;
  },
  sending(state, a) {
    return changeEntry(state, a.messageId, { status: "sending", error: undefined });
  },
  held(state, a) {
    // Refused for now (the rate): it goes again at retryAt, and so far keeps its place.
    return changeEntry(state, a.messageId, { status: "queued", retryAt: a.until, error: a.reason });
  },
  sendFailed(state, a) {
    return changeEntry(state, a.messageId, { status: "failed", error: a.reason });
  },
  retry(state, a) {
    return changeEntry(state, a.messageId, { status: "queued", retryAt: 0, error: undefined, tries: a.tries || 0 });
  },
  discard(state, a) {
    return { ...state, outbox: state.outbox.filter((e) => e.messageId !== a.messageId) };
  },
  opened(state, a) {
    let next = { ...state, view: { ...state.view, current: a.roomId } };
    if (!a.roomId || !next.rooms.has(a.roomId)) return next;
    next = withoutNotices(next, (n) => n.scope.startsWith(`decision:${a.roomId}`) || n.scope.startsWith(`request:${a.roomId}:`));
    const room = next.rooms.get(a.roomId);
    const unread = unreadCount(next, room);
    return withRoom(next, a.roomId, (r) => { r.marker = unread ? next.read[a.roomId] : null; });
  },
  viewed(state, a) {
    const next = { ...state, view: { ...state.view, visible: a.visible, atBottom: a.atBottom } };
    const roomId = next.view.current;
    return roomId && isReading(next, roomId) ? readAll(next, roomId) : next;
  },
  noticed(state, a) {
    return withNotice(state, a.notice);
  },
  dismissed(state, a) {
    return withoutNotices(state, (n) => n.id === a.id || n.scope === a.scope);
  },
  lostSeen(state) {
    return { ...state, lost: state.lost.slice(1) };
  },
};

/** The state after `event`: a server event ({type, …}, plus `at` and `iso`, when it
 * arrived) or one of the page's actions ({action, …}). */
export function reduce(state, event) {
  const step = event.action ? ACTIONS[event.action] : EVENTS[event.type];
  return step ? step(state, event) : state;
}


// How the reducer (state.js) changes the state without changing it: copy-on-write
// helpers, and what is merged in from the server (messages, a room's view) or dropped
// (a room no longer ours). Each returns a new state that shares what didn't change.

import { isMine, keyOf, unreadCount } from "./selectors.js";

function newRoom(roomId) {
  return {
    roomId, name: roomId, role: "member", status: "pending", activityAt: "", lastMessage: null,
    members: [], membersVersion: -1, memberParts: new Map(), // version -> Map(part -> members)
    messages: new Map(), loaded: false, older: null, more: false,
    marker: null, // the key after which the "New messages" line sits
    typing: new Map(), // userId -> {name, until}
    lastSaid: new Map(), // userId -> when their last live message arrived
  };
}

// --- small copy-on-write helpers ---

export function withRoom(state, roomId, change) {
  const room = { ...(state.rooms.get(roomId) || newRoom(roomId)) };
  change(room);
  const rooms = new Map(state.rooms);
  rooms.set(roomId, room);
  return { ...state, rooms };
}

function withoutRoom(state, roomId) {
  if (!state.rooms.has(roomId)) return state;
  const rooms = new Map(state.rooms);
  rooms.delete(roomId);
  return { ...state, rooms };
}

function later(a, b) {
  return !b || keyOf(a) > keyOf(b);
}

export function withNotice(state, notice) {
  const notices = state.notices.filter((n) => n.scope !== notice.scope);
  notices.push({ id: `${notice.scope}@${notice.at || 0}`, until: 0, ...notice });
  return { ...state, notices };
}

export function withoutNotices(state, test) {
  const notices = state.notices.filter((n) => !test(n));
  return notices.length === state.notices.length ? state : { ...state, notices };
}

const roomScope = (roomId) => (n) => n.scope === `room:${roomId}` || n.scope.startsWith(`decision:${roomId}`)
  || n.scope.startsWith(`request:${roomId}:`);

// --- messages ---

/**
 * Whether `incoming` is newer than `known` (same id). Every message view carries a
 * `version` (1 when stored, +1 at each edit or delete); without one, a deletion is
 * final and a later edit replaces an earlier one. An older copy never replaces a newer
 * one, so an edit that lost the race to a delete can't bring the message back.
 */
export function newer(incoming, known) {
  if (!known) return true;
  const a = incoming.version;
  const b = known.version;
  if (Number.isInteger(a) && Number.isInteger(b)) return a > b;
  if (Number.isInteger(b) && !Number.isInteger(a)) return false;
  if (Number.isInteger(a) && !Number.isInteger(b)) return true;
  if (known.deletedAt) return false;
  if (incoming.deletedAt) return true;
  return (incoming.editedAt || "") > (known.editedAt || "");
}

export function isReading(state, roomId) {
  const { view } = state;
  return view.current === roomId && view.visible && view.atBottom;
}

/**
 * Messages merged into a room, the newest version of each kept. `live`: just posted
 * (a `message` event). What the reader has seen moves on by itself only for a live
 * message while they are reading the room at its bottom, or for their own; anything
 * else waits for the view to say it was shown (the `viewed` action).
 */
export function addMessages(state, roomId, messages, { live = false, at = 0 } = {}) {
  if (state.gone.has(roomId) || !state.rooms.has(roomId) || !messages.length) return state;
  const before = unreadCount(state, state.rooms.get(roomId));
  let next = withRoom(state, roomId, (room) => {
    room.messages = new Map(room.messages);
    for (const m of messages) {
      if (newer(m, room.messages.get(m.messageId))) room.messages.set(m.messageId, m);
      const last = room.lastMessage;
      if (last && last.messageId === m.messageId ? newer(m, last) : later(m, last)) room.lastMessage = m;
      if (m.sentAt > room.activityAt) room.activityAt = m.sentAt;
      if (live) {
        if (room.typing.has(m.userId)) {
          room.typing = new Map(room.typing);
          room.typing.delete(m.userId);
        }
        room.lastSaid = new Map(room.lastSaid).set(m.userId, at);
      }
    }
  });
  const room = next.rooms.get(roomId);
  const reading = live && isReading(next, roomId);
  const own = live && next.view.current === roomId && messages.some((m) => isMine(next, m));
  let read = next.read[roomId];
  if (read === null || read === undefined) read = newestKey(room); // we just joined: all of it is old
  else if (reading || own) read = maxKey(read, newestKey(room));
  if (read !== next.read[roomId]) next = { ...next, read: { ...next.read, [roomId]: read } };
  const after = unreadCount(next, room);
  if (after > 0 && !reading && (before === 0 || room.marker === null)) {
    next = withRoom(next, roomId, (r) => { r.marker = read; }); // a new batch starts here
  }
  return next;
}

const maxKey = (a, b) => (a > b ? a : b);

export function newestKey(room) {
  let newest = "";
  for (const m of room.messages.values()) if (keyOf(m) > newest) newest = keyOf(m);
  if (room.lastMessage && keyOf(room.lastMessage) > newest) newest = keyOf(room.lastMessage);
  return newest;
}

// --- rooms ---

// The server's view of a room (roomId, name, role, status…) onto ours.
export function adopt(state, view, at) {
  let next = state;
  if (next.gone.has(view.roomId) && view.status === "approved") {
    const gone = new Map(next.gone);
    gone.delete(view.roomId);
    next = { ...next, gone };
  }
  const known = next.rooms.get(view.roomId);
  if (known && known.status !== view.status) next = withoutNotices(next, (n) => n.scope === `room:${view.roomId}`);
  if (!known) next = withoutNotices(next, (n) => n.scope === `room:${view.roomId}`);
  return withRoom(next, view.roomId, (room) => {
    room.name = view.name;
    room.role = view.role;
    room.status = view.status;
    if (view.activityAt && view.activityAt > room.activityAt) room.activityAt = view.activityAt;
    if (view.lastMessage && newer(view.lastMessage, room.messages.get(view.lastMessage.messageId))
        && later(view.lastMessage, room.lastMessage)) {
      room.lastMessage = view.lastMessage;
    }
    if (!room.activityAt) room.activityAt = at;
  });
}

// The room is no longer ours (`why`: "left", "removed", or "vanished" from the server,
// which was reset): its unsent messages, and the draft, are kept for the reader to copy.
export function dropRoom(state, roomId, why, draft = "") {
  const room = state.rooms.get(roomId);
  const unsent = state.outbox.filter((e) => e.roomId === roomId).map((e) => e.text);
  if (draft && draft.trim() && why !== "left") unsent.push(draft);
  let next = withoutRoom(state, roomId);
  if (why !== "vanished") next = { ...next, gone: new Map(next.gone).set(roomId, why) };
  const { [roomId]: _, ...read } = next.read;
  next = { ...next, read, outbox: next.outbox.filter((e) => e.roomId !== roomId) };
  if (unsent.length || (why === "vanished" && next.view.current === roomId)) {
    const name = room ? room.name : roomId;
    next = { ...next, lost: [...next.lost, { roomId, name, text: unsent.join("\n\n"), why }] };
  }
  next = withoutNotices(next, roomScope(roomId));
  if (next.view.current === roomId) next = { ...next, view: { ...next.view, current: null } };
  return next;
}

export function ownRead(state, roomId, value) {
  if (state.read[roomId] !== undefined && state.read[roomId] !== null) return state;
  return { ...state, read: { ...state.read, [roomId]: value } };
}

export function changeEntry(state, messageId, change) {
  if (!state.outbox.some((e) => e.messageId === messageId)) return state;
  return { ...state, outbox: state.outbox.map((e) => (e.messageId === messageId ? { ...e, ...change } : e)) };
}

export function readAll(state, roomId) {
  const room = state.rooms.get(roomId);
  if (!room) return state;
  const newest = newestKey(room);
  const read = state.read[roomId];
  if (read !== null && read !== undefined && read >= newest) return state;
  return { ...state, read: { ...state.read, [roomId]: newest } };
}


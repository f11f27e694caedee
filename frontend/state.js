// The client's state: a reducer over the server's events (docs/protocol.md §3) and the
// page's own actions, with the selectors the views read. No DOM, no socket, no storage
// and no clock here (events carry `at`, the time they arrived), so Node's test runner
// checks it all.
//
// reduce(state, event) never changes `state`: it returns a new state that shares what
// didn't change, so a view can tell what did by comparing.

import { labelIn, nameIndex } from "./names.js";
import { noticeText } from "./text.js";

const TYPING_SHOWN_MS = 5000;
const TYPING_AFTER_MESSAGE_MS = 1500; // a typing event can trail the message it announced
const INFO_SHOWN_MS = 10000;

/** The order of a room's conversation, and the server's history cursor. */
export const keyOf = (m) => `${m.sentAt}#${m.messageId}`;

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

function withRoom(state, roomId, change) {
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

function withNotice(state, notice) {
  const notices = state.notices.filter((n) => n.scope !== notice.scope);
  notices.push({ id: `${notice.scope}@${notice.at || 0}`, until: 0, ...notice });
  return { ...state, notices };
}

function withoutNotices(state, test) {
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

function isReading(state, roomId) {
  const { view } = state;
  return view.current === roomId && view.visible && view.atBottom;
}

function countsAsUnread(state, m, read) {
  return m.kind === "text" && !m.deletedAt && (!state.me || m.userId !== state.me.userId)
    && read !== null && read !== undefined && keyOf(m) > read;
}

/**
 * Messages merged into a room, the newest version of each kept. `live`: just posted
 * (a `message` event). What the reader has seen moves on by itself only for a live
 * message while they are reading the room at its bottom, or for their own; anything
 * else waits for the view to say it was shown (the `viewed` action).
 */
function addMessages(state, roomId, messages, { live = false, at = 0 } = {}) {
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

function newestKey(room) {
  let newest = "";
  for (const m of room.messages.values()) if (keyOf(m) > newest) newest = keyOf(m);
  if (room.lastMessage && keyOf(room.lastMessage) > newest) newest = keyOf(room.lastMessage);
  return newest;
}

// --- rooms ---

// The server's view of a room (roomId, name, role, status…) onto ours.
function adopt(state, view, at) {
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
function dropRoom(state, roomId, why, draft = "") {
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

function ownRead(state, roomId, value) {
  if (state.read[roomId] !== undefined && state.read[roomId] !== null) return state;
  return { ...state, read: { ...state.read, [roomId]: value } };
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

function changeEntry(state, messageId, change) {
  if (!state.outbox.some((e) => e.messageId === messageId)) return state;
  return { ...state, outbox: state.outbox.map((e) => (e.messageId === messageId ? { ...e, ...change } : e)) };
}

function readAll(state, roomId) {
  const room = state.rooms.get(roomId);
  if (!room) return state;
  const newest = newestKey(room);
  const read = state.read[roomId];
  if (read !== null && read !== undefined && read >= newest) return state;
  return { ...state, read: { ...state.read, [roomId]: newest } };
}

/** The state after `event`: a server event ({type, …}, plus `at` and `iso`, when it
 * arrived) or one of the page's actions ({action, …}). */
export function reduce(state, event) {
  const step = event.action ? ACTIONS[event.action] : EVENTS[event.type];
  return step ? step(state, event) : state;
}

// --- selectors ---

export function sortedRooms(state) {
  return [...state.rooms.values()].sort((a, b) =>
    a.activityAt === b.activityAt ? a.name.localeCompare(b.name) || a.roomId.localeCompare(b.roomId)
      : b.activityAt.localeCompare(a.activityAt));
}

export function pendingRequests(room) {
  return room && room.role === "admin" ? room.members.filter((m) => m.status === "pending") : [];
}

/** How many messages from others the reader hasn't seen in a room. */
export function unreadCount(state, room) {
  if (!room || room.status !== "approved") return 0;
  const read = state.read[room.roomId];
  let count = 0;
  for (const m of room.messages.values()) if (countsAsUnread(state, m, read)) count += 1;
  if (!count && room.lastMessage && !room.messages.has(room.lastMessage.messageId)
      && countsAsUnread(state, room.lastMessage, read)) count = 1;
  return count;
}

const indexes = new WeakMap(); // room -> {index, ids}

/** A name as shown in a room: told apart from look-alikes by the user's tag. */
export function label(room, userId, name) {
  if (!room) return name;
  let known = indexes.get(room);
  if (!known) {
    const people = [...room.members, ...room.messages.values()];
    known = { index: nameIndex(people), ids: new Set(people.map((p) => p.userId)), people };
    indexes.set(room, known);
  }
  if (known.ids.has(userId)) return labelIn(known.index, userId, name);
  // Someone the room doesn't show yet (a new requester) is compared too.
  return labelIn(nameIndex([...known.people, { userId, name }]), userId, name);
}

export function isMine(state, m) {
  return Boolean(state.me && m.userId === state.me.userId);
}

/** The room list's second line. */
export function preview(state, room) {
  if (room.status === "pending") return "Waiting for the admin to let you in";
  if (room.status === "rejected") return "Your request was declined";
  const m = room.lastMessage;
  if (!m) return "No messages yet";
  const mine = isMine(state, m);
  const who = mine ? "You" : label(room, m.userId, m.name);
  if (m.kind !== "text") return noticeText(m.kind, who, mine);
  return `${who}: ${m.deletedAt ? "message deleted" : m.text.replace(/\s+/g, " ")}`;
}

/**
 * A room's conversation in order: its stored messages and the reader's own messages on
 * their way ({message, outgoing}), `outgoing` being the outbox entry, if any.
 */
export function conversation(state, room) {
  const outgoing = new Map(state.outbox.filter((e) => e.roomId === room.roomId).map((e) => [e.messageId, e]));
  const entries = [...room.messages.values()].map((m) => ({ message: m, outgoing: outgoing.get(m.messageId) }));
  for (const e of outgoing.values()) {
    if (room.messages.has(e.messageId)) continue;
    entries.push({
      message: {
        roomId: e.roomId, messageId: e.messageId, userId: state.me ? state.me.userId : "",
        name: state.me ? state.me.name : "", text: e.text, sentAt: e.at, kind: "text", local: true,
      },
      outgoing: e,
    });
  }
  // Messages on their way go after everything stored, in the order they were written.
  const rank = (x) => (x.message.local ? 1 : 0);
  return entries.sort((a, b) => rank(a) - rank(b)
    || (rank(a) ? state.outbox.indexOf(a.outgoing) - state.outbox.indexOf(b.outgoing)
      : keyOf(a.message).localeCompare(keyOf(b.message))));
}

/** The key before the first unread entry, when the "New messages" line shows. */
export function markerOf(state, room) {
  if (room.marker === null || room.marker === undefined) return null;
  for (const m of room.messages.values()) {
    if (keyOf(m) > room.marker && m.kind === "text" && !isMine(state, m)) return room.marker;
  }
  return null;
}

/**
 * The messages to send now: in each room, the first that isn't failed, unless one is
 * already on its way or must wait (retryAt). One at a time per room, so a sender's
 * messages are stored in the order they were written.
 */
export function nextToSend(state, now) {
  const busy = new Set();
  const ready = [];
  for (const e of state.outbox) {
    if (e.status === "failed" || busy.has(e.roomId)) continue;
    busy.add(e.roomId);
    const room = state.rooms.get(e.roomId);
    if (e.status === "queued" && e.retryAt <= now && room && room.status === "approved") ready.push(e);
  }
  return ready;
}

/** When the next message held for later (the rate) may go: a time, or null. */
export function nextRetryAt(state) {
  const times = state.outbox.filter((e) => e.status === "queued" && e.retryAt).map((e) => e.retryAt);
  return times.length ? Math.min(...times) : null;
}

export function noticesNow(state, now) {
  return state.notices.filter((n) => !n.until || n.until > now);
}

/** What the saved outbox holds: enough to send each message again with its own id. */
export function savedOutbox(state) {
  return state.outbox.map(({ roomId, messageId, text, at, status, error }) =>
    ({ roomId, messageId, text, at, failed: status === "failed", error }));
}

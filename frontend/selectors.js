// What the views read from the state (state.js): the rooms in order, unread counts,
// names as shown, a room's conversation, the outbox's next messages. Pure, like the
// reducer: no DOM, no clock (`now` comes in).

import { labelIn, nameIndex } from "./names.js";
import { noticeText } from "./text.js";

/** The order of a room's conversation, and the server's history cursor. */
export const keyOf = (m) => `${m.sentAt}#${m.messageId}`;

function countsAsUnread(state, m, read) {
  return m.kind === "text" && !m.deletedAt && (!state.me || m.userId !== state.me.userId)
    && read !== null && read !== undefined && keyOf(m) > read;
}

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

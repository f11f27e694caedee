// The client's state (frontend/state.js) as a reducer over server events, read through
// its selectors (frontend/selectors.js): no browser.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  conversation, label, markerOf, nextToSend, preview, savedOutbox, unreadCount,
} from "../../frontend/selectors.js";
import { initialState, reduce } from "../../frontend/state.js";

const ME = "u00000000000000000001";
const ANN = "u00000000000000000002";
const BOB = "u00000000000000000003";
const ROOM = "k7m2qh9xpa";

let clock = 0;
const at = () => { clock += 1000; return { at: clock, iso: new Date(Date.UTC(2026, 0, 1, 9, 0, 0, clock)).toISOString() }; };

function message(id, userId, text, extra = {}) {
  const second = String(10 + Number.parseInt(id.slice(-2), 16) % 50).padStart(2, "0");
  return { roomId: ROOM, messageId: id, userId, name: userId === ANN ? "Ann" : userId === ME ? "Me" : "Bob",
    text, sentAt: `2026-01-01T09:00:${second}.000Z`, kind: "text", version: 1, ...extra };
}

const id = (n) => n.toString(16).padStart(16, "0");

function run(state, ...events) {
  return events.reduce((s, e) => reduce(s, e.action ? e : { ...at(), ...e }), state);
}

function inRoom({ read = {}, outbox = [] } = {}) {
  return run(initialState({ read, outbox }),
    { type: "rooms", userId: ME, name: "Me", rooms: [{ roomId: ROOM, name: "Book club", role: "admin", status: "approved", lastMessage: null, activityAt: "2026-01-01T08:00:00.000Z" }] });
}

test("the highest version of a message wins: a late edit doesn't bring back a deleted one", () => {
  const deleted = message(id(1), ANN, "", { deletedAt: "2026-01-01T09:01:00.000Z", version: 3 });
  const edit = message(id(1), ANN, "edited", { editedAt: "2026-01-01T09:00:59.000Z", version: 2 });
  const state = run(inRoom(), { type: "message", message: message(id(1), ANN, "hi") },
    { type: "messageUpdated", message: deleted }, { type: "messageUpdated", message: edit });
  const kept = state.rooms.get(ROOM).messages.get(id(1));
  assert.equal(kept.version, 3);
  assert.equal(kept.deletedAt, "2026-01-01T09:01:00.000Z");
  assert.equal(kept.text, "");
});

test("an older history page can't replace a newer copy of a message", () => {
  const state = run(inRoom(),
    { type: "messageUpdated", message: message(id(1), ANN, "second", { version: 2, editedAt: "2026-01-01T09:05:00.000Z" }) },
    { type: "history", roomId: ROOM, messages: [message(id(1), ANN, "first")], before: null, cursor: null, more: false });
  assert.equal(state.rooms.get(ROOM).messages.get(id(1)).text, "second");
});

test("without versions, a deletion is still final", () => {
  const plain = (extra) => { const m = message(id(1), ANN, extra.text ?? "x", extra); delete m.version; return m; };
  const state = run(inRoom(), { type: "messageUpdated", message: plain({ text: "", deletedAt: "2026-01-01T09:02:00.000Z" }) },
    { type: "messageUpdated", message: plain({ text: "late", editedAt: "2026-01-01T09:01:00.000Z" }) });
  assert.equal(state.rooms.get(ROOM).messages.get(id(1)).deletedAt, "2026-01-01T09:02:00.000Z");
});

test("after `removed`, the room's events are dropped until the user is back in", () => {
  let state = run(inRoom(), { type: "removed", roomId: ROOM, roomName: "Book club" });
  assert.equal(state.rooms.has(ROOM), false);
  state = run(state, { type: "message", message: message(id(2), ANN, "after the removal") },
    { type: "members", roomId: ROOM, version: 9, part: 1, parts: 1, members: [] },
    { type: "typing", roomId: ROOM, userId: ANN, name: "Ann" });
  assert.equal(state.rooms.has(ROOM), false, "a late broadcast brought the room back");
  assert.deepEqual(state.notices.map((n) => n.text), ["The admin removed you from Book club."]);

  state = run(state, { type: "joinRequested", room: { roomId: ROOM, name: "Book club", role: "member", status: "pending" } });
  assert.deepEqual(state.notices, [], "the removal notice outlived the removal");
  state = run(state, { type: "message", message: message(id(4), ANN, "still on its way") });
  assert.equal(state.rooms.get(ROOM).messages.size, 0, "an event before re-approval was taken");
  state = run(state, { type: "joinDecision", roomId: ROOM, status: "approved", room: { roomId: ROOM, name: "Book club", role: "member", status: "approved" } },
    { type: "message", message: message(id(3), ANN, "welcome back") });
  assert.equal(state.rooms.get(ROOM).messages.get(id(3)).text, "welcome back");
});

test("a room's messages go one at a time, in the order written, and on after each ack", () => {
  let state = inRoom();
  for (const n of [1, 2, 3]) state = reduce(state, { action: "queued", roomId: ROOM, messageId: id(n), text: `m${n}`, iso: "2026-01-01T09:00:00.000Z" });
  assert.deepEqual(nextToSend(state, 0).map((e) => e.messageId), [id(1)]);
  state = reduce(state, { action: "sending", messageId: id(1) });
  assert.deepEqual(nextToSend(state, 0), [], "a second message went while the first was in flight");
  state = run(state, { type: "messageSent", roomId: ROOM, messageId: id(1), sentAt: "2026-01-01T09:00:01.000Z", duplicate: false });
  assert.deepEqual(nextToSend(state, 0).map((e) => e.messageId), [id(2)]);
});

test("a dropped connection sends the message in flight again, with the same id, first", () => {
  let state = inRoom();
  for (const n of [1, 2]) state = reduce(state, { action: "queued", roomId: ROOM, messageId: id(n), text: `m${n}`, iso: "2026-01-01T09:00:00.000Z" });
  state = reduce(state, { action: "sending", messageId: id(1) });
  state = reduce(state, { action: "connection", status: "offline" });
  assert.deepEqual(nextToSend(state, 0).map((e) => e.messageId), [id(1)]);
  // Saved in order with its id, so a reload sends them again the same way.
  const reloaded = inRoom({ outbox: savedOutbox(state) });
  assert.deepEqual(nextToSend(reloaded, 0).map((e) => e.messageId), [id(1)]);
  assert.deepEqual(reloaded.outbox.map((e) => e.messageId), [id(1), id(2)]);
});

test("a message refused for the rate waits, keeps its place, and holds the ones after it", () => {
  let state = inRoom();
  for (const n of [1, 2]) state = reduce(state, { action: "queued", roomId: ROOM, messageId: id(n), text: `m${n}`, iso: "2026-01-01T09:00:00.000Z" });
  state = reduce(state, { action: "held", messageId: id(1), until: 5000, reason: "slow down" });
  assert.deepEqual(nextToSend(state, 4999), []);
  assert.deepEqual(nextToSend(state, 5000).map((e) => e.messageId), [id(1)]);
});

test("a failed message doesn't hold back the next one; rooms don't wait for each other", () => {
  let state = run(inRoom(), { type: "roomCreated", room: { roomId: "abcdefghjk", name: "Other", role: "admin", status: "approved", createdAt: "2026-01-01T09:00:00.000Z" } });
  state = reduce(state, { action: "queued", roomId: ROOM, messageId: id(1), text: "a", iso: "x" });
  state = reduce(state, { action: "queued", roomId: ROOM, messageId: id(2), text: "b", iso: "x" });
  state = reduce(state, { action: "queued", roomId: "abcdefghjk", messageId: id(3), text: "c", iso: "x" });
  assert.deepEqual(nextToSend(state, 0).map((e) => e.messageId), [id(1), id(3)]);
  state = reduce(state, { action: "sendFailed", messageId: id(1), reason: "no" });
  assert.deepEqual(nextToSend(state, 0).map((e) => e.messageId), [id(2), id(3)]);
});

test("messages on their way show after the stored ones, in the order written", () => {
  let state = run(inRoom(), { type: "message", message: message(id(9), ANN, "stored") });
  state = reduce(state, { action: "queued", roomId: ROOM, messageId: id(2), text: "first", iso: "2026-01-01T08:00:00.000Z" });
  state = reduce(state, { action: "queued", roomId: ROOM, messageId: id(1), text: "second", iso: "2026-01-01T08:00:00.000Z" });
  assert.deepEqual(conversation(state, state.rooms.get(ROOM)).map((x) => x.message.text), ["stored", "first", "second"]);
});

test("unread messages after a reload start where the reader left off", () => {
  const seen = message(id(1), ANN, "seen");
  const state = run(inRoom({ read: { [ROOM]: `${seen.sentAt}#${seen.messageId}` } }),
    { type: "history", roomId: ROOM, before: null, cursor: null, more: false,
      messages: [seen, message(id(2), ANN, "new 1"), message(id(3), BOB, "new 2"), message(id(4), ME, "mine")] });
  const room = state.rooms.get(ROOM);
  assert.equal(unreadCount(state, room), 2);
  const opened = reduce(state, { action: "opened", roomId: ROOM });
  assert.equal(markerOf(opened, opened.rooms.get(ROOM)), `${seen.sentAt}#${seen.messageId}`);
});

test("the new-messages line moves to a later batch once the earlier one was read", () => {
  let state = reduce(inRoom(), { action: "opened", roomId: ROOM });
  state = reduce(state, { action: "viewed", visible: false, atBottom: true });
  state = run(state, { type: "message", message: message(id(1), ANN, "one") });
  const first = state.rooms.get(ROOM).marker;
  state = run(state, { type: "message", message: message(id(2), ANN, "two") });
  assert.equal(state.rooms.get(ROOM).marker, first, "the line moved within one batch");
  state = reduce(state, { action: "viewed", visible: true, atBottom: true }); // read
  assert.equal(unreadCount(state, state.rooms.get(ROOM)), 0);
  state = reduce(state, { action: "viewed", visible: false, atBottom: true });
  state = run(state, { type: "message", message: message(id(3), BOB, "three") });
  const room = state.rooms.get(ROOM);
  assert.equal(markerOf(state, room), `${message(id(2), ANN, "").sentAt}#${id(2)}`);
});

test("a reader at the bottom of the open room reads live messages as they come", () => {
  let state = reduce(inRoom(), { action: "opened", roomId: ROOM });
  state = reduce(state, { action: "viewed", visible: true, atBottom: true });
  state = run(state, { type: "message", message: message(id(1), ANN, "hello") });
  assert.equal(unreadCount(state, state.rooms.get(ROOM)), 0);
  assert.equal(markerOf(state, state.rooms.get(ROOM)), null);
});

test("look-alike names are told apart in a room: Anna and Аnna, René composed and not", () => {
  const state = run(inRoom(), { type: "members", roomId: ROOM, version: 2, part: 1, parts: 1, members: [
    { userId: ANN, name: "Anna", role: "member", status: "approved", online: true },
    { userId: BOB, name: "\u0410nna", role: "member", status: "approved", online: true },
    { userId: "u00000000000000000004", name: "Ren\u00e9", role: "member", status: "approved", online: true },
    { userId: "u00000000000000000005", name: "Rene\u0301", role: "member", status: "approved", online: true },
    { userId: "u00000000000000000006", name: "Carol", role: "member", status: "approved", online: true },
  ] });
  const room = state.rooms.get(ROOM);
  assert.equal(label(room, ANN, "Anna"), "Anna #0000");
  assert.equal(label(room, BOB, "\u0410nna"), "\u0410nna #0000");
  assert.match(label(room, "u00000000000000000004", "Ren\u00e9"), /#/);
  assert.match(label(room, "u00000000000000000005", "Rene\u0301"), /#/);
  assert.equal(label(room, "u00000000000000000006", "Carol"), "Carol");
});

test("two people of one name in notices are told apart too", () => {
  const sam1 = "u1111000000000000000a";
  const sam2 = "u2222000000000000000b";
  const state = run(inRoom(), { type: "history", roomId: ROOM, before: null, cursor: null, more: false, messages: [
    { ...message(id(1), sam1, ""), name: "Sam", kind: "joined" },
    { ...message(id(2), sam2, ""), name: "Sam", kind: "joined" },
  ] });
  const room = state.rooms.get(ROOM);
  assert.equal(label(room, sam1, "Sam"), "Sam #1111");
  assert.equal(label(room, sam2, "Sam"), "Sam #2222");
});

test("the preview of a hand-over to oneself reads as English", () => {
  const state = run(inRoom(), { type: "message", message: { ...message(id(1), ME, ""), kind: "admin" } });
  assert.equal(preview(state, state.rooms.get(ROOM)), "You are now the room's admin");
});

test("a join request's notice goes when the request is withdrawn", () => {
  let state = run(inRoom(), { type: "roomCreated", room: { roomId: "abcdefghjk", name: "Other", role: "admin", status: "approved", createdAt: "2026-01-01T09:00:00.000Z" } });
  state = reduce(state, { action: "opened", roomId: "abcdefghjk" });
  state = run(state, { type: "members", roomId: ROOM, version: 1, part: 1, parts: 1, members: [] },
    { type: "joinRequest", roomId: ROOM, roomName: "Book club", user: { userId: BOB, name: "Bob" }, requestedAt: "x" },
    { type: "members", roomId: ROOM, version: 2, part: 1, parts: 1, members: [{ userId: BOB, name: "Bob", role: "member", status: "pending", online: true }] });
  assert.deepEqual(state.notices.map((n) => n.text), ["Bob asks to join Book club."]);
  state = run(state, { type: "members", roomId: ROOM, version: 3, part: 1, parts: 1, members: [] });
  assert.deepEqual(state.notices, []);
});

test("a member list of a lower version is dropped; parts wait for each other", () => {
  const member = (name) => ({ userId: name === "Ann" ? ANN : BOB, name, role: "member", status: "approved", online: true });
  let state = run(inRoom(), { type: "members", roomId: ROOM, version: 5, part: 1, parts: 1, members: [member("Ann")] },
    { type: "members", roomId: ROOM, version: 4, part: 1, parts: 1, members: [member("Bob")] });
  assert.deepEqual(state.rooms.get(ROOM).members.map((m) => m.name), ["Ann"]);
  state = run(state, { type: "members", roomId: ROOM, version: 6, part: 1, parts: 2, members: [member("Bob")] });
  assert.deepEqual(state.rooms.get(ROOM).members.map((m) => m.name), ["Ann"]);
  state = run(state, { type: "members", roomId: ROOM, version: 6, part: 2, parts: 2, members: [member("Ann")] });
  assert.deepEqual(state.rooms.get(ROOM).members.map((m) => m.name), ["Bob", "Ann"]);
});

test("a room gone from the server keeps its unsent text for the reader", () => {
  let state = inRoom();
  state = reduce(state, { action: "queued", roomId: ROOM, messageId: id(1), text: "unsent", iso: "x" });
  state = run(state, { type: "rooms", userId: ME, name: "Me", rooms: [], drafts: { [ROOM]: "half a thought" } });
  assert.equal(state.rooms.size, 0);
  assert.deepEqual(state.lost, [{ roomId: ROOM, name: "Book club", text: "unsent\n\nhalf a thought", why: "vanished" }]);
  assert.deepEqual(state.outbox, []);
});

test("typing shows for 5 s, and not right after the typist's own message", () => {
  let state = run(inRoom(), { type: "members", roomId: ROOM, version: 1, part: 1, parts: 1, members: [
    { userId: ANN, name: "Ann", role: "member", status: "approved", online: true }] });
  state = run(state, { type: "message", message: message(id(1), ANN, "hi") });
  const said = clock;
  state = reduce(state, { type: "typing", roomId: ROOM, userId: ANN, name: "Ann", at: said + 500 });
  assert.equal(state.rooms.get(ROOM).typing.size, 0);
  state = reduce(state, { type: "typing", roomId: ROOM, userId: ANN, name: "Ann", at: said + 2000 });
  assert.equal(state.rooms.get(ROOM).typing.get(ANN).until, said + 7000);
});

test("typing from someone not an approved member of the newest list isn't shown", () => {
  let state = run(inRoom(), { type: "members", roomId: ROOM, version: 3, part: 1, parts: 1, members: [
    { userId: ME, name: "Me", role: "admin", status: "approved", online: true }] });
  state = run(state, { type: "typing", roomId: ROOM, userId: ANN, name: "Ann" });
  assert.equal(state.rooms.get(ROOM).typing.size, 0);
});

// The connection (frontend/connection.js) with a stand-in socket and clock: the
// heartbeat's deadline, the backoff, the browser's network events, and pacing within
// the server's rates.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Connection, RATES } from "../../frontend/connection.js";

class Clock {
  constructor() { this.t = 1_000_000; this.timers = new Map(); this.next = 1; }
  now() { return this.t; }
  setTimeout(fn, ms) { const id = this.next++; this.timers.set(id, { at: this.t + ms, fn }); return id; }
  clearTimeout(id) { this.timers.delete(id); }
  random() { return 0.5; }
  advance(ms) {
    const end = this.t + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, x]) => x.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = Math.max(this.t, due[1].at);
      due[1].fn();
    }
    this.t = end;
  }
}

class Socket {
  static all = [];
  constructor(url) { this.url = url; this.readyState = 0; this.sent = []; this.listeners = {}; Socket.all.push(this); }
  addEventListener(type, fn) { (this.listeners[type] ||= []).push(fn); }
  emit(type, event = {}) { for (const fn of this.listeners[type] || []) fn(event); }
  send(data) {
    const frame = JSON.parse(data);
    this.sent.push(frame);
    if (this.answers && frame.ref) queueMicrotask(() => this.reply({ type: "answer", ref: frame.ref }));
  }
  close() { this.readyState = 3; }
  opened() { this.readyState = 1; this.emit("open"); }
  reply(data) { this.emit("message", { data: JSON.stringify(data) }); }
}

const mapStorage = (map) => ({
  get: (k) => map.get(k) ?? null,
  set: (k, v) => map.set(k, v),
  keys: (prefix) => [...map.keys()].filter((k) => k.startsWith(prefix)),
  remove: (k) => map.delete(k),
});

function setUp({ storage = new Map(), rates = RATES, answers = false, clock = new Clock() } = {}) {
  Socket.all = [];
  const seen = { events: [], statuses: [] };
  const connection = new Connection({
    url: "ws://chat/", WebSocket: Socket, clock, rates,
    storage: mapStorage(storage),
    on: { open() {}, event: (data, context) => seen.events.push([data, context]), status: (s) => seen.statuses.push(s), dropped() {} },
  });
  connection.start();
  Socket.all.at(-1).answers = answers;
  Socket.all.at(-1).opened();
  connection.connected(); // the answer to listRooms
  return { clock, connection, seen, socket: () => Socket.all.at(-1), storage };
}

test("a socket that answers nothing to a ping within its deadline is dropped and replaced", () => {
  const { clock, seen } = setUp();
  clock.advance(25_000);
  const ping = Socket.all[0].sent.at(-1);
  assert.equal(ping.action, "ping");
  clock.advance(9_000);
  assert.equal(Socket.all.length, 1, "dropped before the deadline");
  clock.advance(1_000);
  assert.equal(seen.statuses.at(-1).status, "offline");
  clock.advance(5_000);
  assert.equal(Socket.all.length, 2, "no new connection");
});

test("an answered ping keeps the connection; no ping while requests flow", () => {
  const { clock, connection, socket } = setUp();
  clock.advance(25_000);
  socket().reply({ type: "pong", ref: socket().sent.at(-1).ref });
  clock.advance(15_000);
  assert.equal(Socket.all.length, 1);
  for (let i = 0; i < 5; i++) {
    connection.request("getRoom", { roomId: "abcdefghjk" });
    socket().reply({ type: "roomInfo", ref: socket().sent.at(-1).ref });
    clock.advance(5_000);
  }
  assert.equal(socket().sent.filter((f) => f.action === "ping").length, 1);
});

test("offline drops the socket at once; online reconnects at once", () => {
  const { clock, connection, seen } = setUp();
  connection.networkChanged(false);
  assert.equal(seen.statuses.at(-1).status, "offline");
  assert.equal(Socket.all.length, 1);
  clock.advance(100);
  connection.networkChanged(true);
  assert.equal(Socket.all.length, 2);
});

test("the backoff is capped at 5 s while the page is visible, 30 s while hidden", () => {
  const { clock, connection, seen } = setUp();
  const delays = [];
  for (let i = 0; i < 8; i++) {
    Socket.all.at(-1).emit("close", { code: 1006 });
    delays.push(seen.statuses.at(-1).retryAt - clock.now());
    clock.advance(delays.at(-1));
  }
  assert.ok(Math.max(...delays) <= 5000, `waits ${delays}`);
  connection.visibilityChanged(false);
  for (let i = 0; i < 8; i++) {
    Socket.all.at(-1).emit("close", { code: 1006 });
    delays.push(seen.statuses.at(-1).retryAt - clock.now());
    clock.advance(delays.at(-1));
  }
  assert.ok(Math.max(...delays) > 5000 && Math.max(...delays) <= 30000, `waits ${delays}`);
  Socket.all.at(-1).emit("close", { code: 1006 });
  const before = Socket.all.length;
  connection.visibilityChanged(true); // back in view: try now rather than in up to 30 s
  assert.equal(Socket.all.length, before + 1);
});

test("retryNow reconnects without waiting for the backoff", () => {
  const { connection } = setUp();
  Socket.all[0].emit("close", { code: 1006 });
  connection.retryNow();
  assert.equal(Socket.all.length, 2);
});

test("121 catch-up reads stay within the connection's rate in any 10 s", async () => {
  const { clock, connection, socket } = setUp({ answers: true });
  for (let i = 0; i < 121; i++) connection.request("getHistory", { roomId: `room${i}` }, {}, "background");
  const times = [];
  let count = 0;
  for (let t = 0; t < 30_000; t += 500) {
    await Promise.resolve();
    const sent = socket().sent.length;
    for (let i = count; i < sent; i++) times.push(clock.now());
    count = sent;
    clock.advance(500);
  }
  assert.equal(socket().sent.length, 121);
  for (const start of times) {
    const inWindow = times.filter((t) => t >= start && t < start + RATES.windowMs).length;
    assert.ok(inWindow <= RATES.perConnection, `${inWindow} frames in 10 s`);
  }
});

test("the user's rate is shared by their tabs", async () => {
  const storage = new Map();
  const clock = new Clock();
  const tabs = [0, 1, 2].map(() => {
    const tab = setUp({ storage, answers: true, clock });
    const socket = tab.socket();
    return { ...tab, socket: () => socket };
  });
  for (const tab of tabs) for (let i = 0; i < 71; i++) tab.connection.request("getHistory", { i }, {}, "background");
  const sentNow = tabs.reduce((n, tab) => n + tab.socket().sent.length, 0);
  assert.ok(sentNow <= RATES.perUser, `${sentNow} frames at once from one user`);
  for (let t = 0; t < 30_000; t += 500) {
    await new Promise((resolve) => setImmediate(resolve));
    clock.advance(500);
  }
  assert.equal(tabs.reduce((n, tab) => n + tab.socket().sent.filter((f) => f.action === "getHistory").length, 0), 213);
});

// Tabs of one user, each starting its catch-up reads at its own time, against a server
// that runs their frames first come first served and counts each in the fixed 10 s window
// in which it runs (its answer leaves then). Returns the largest counts of a window.
async function simulate({ tabs: starts, reads, storages, runs }) {
  const clock = new Clock();
  const backlog = [];
  const ran = []; // [time, tab]
  const tabs = starts.map((start, n) => {
    Socket.all = [];
    const connection = new Connection({
      url: "ws://chat/", WebSocket: Socket, clock, storage: storages(clock, n),
      on: { open() {}, event() {}, status() {}, dropped() {} },
    });
    connection.start();
    const socket = Socket.all[0];
    socket.opened();
    connection.connected();
    socket.send = (data) => backlog.push({ socket, frame: JSON.parse(data), tab: n });
    clock.setTimeout(() => { for (let i = 0; i < reads; i++) connection.request("getHistory", { i }, {}, "background"); }, start);
    return connection;
  });
  let served = 0;
  for (let t = 0; t < 120_000; t += 100) {
    await new Promise((resolve) => setImmediate(resolve));
    for (let k = runs(clock.now()); k > 0 && backlog.length; k--) {
      const { socket, frame, tab } = backlog.shift();
      ran.push([clock.now(), tab]);
      if (frame.action === "getHistory") served += 1;
      socket.reply({ type: "history", ref: frame.ref });
    }
    clock.advance(100);
  }
  assert.equal(served, reads * tabs.length, "every read answered");
  const windows = new Map();
  for (const [time, tab] of ran) {
    const counts = windows.get(Math.floor(time / RATES.windowMs)) ?? tabs.map(() => 0);
    counts[tab] += 1;
    windows.set(Math.floor(time / RATES.windowMs), counts);
  }
  const counts = [...windows.values()];
  return {
    user: Math.max(...counts.map((c) => c.reduce((x, y) => x + y, 0))),
    connection: Math.max(...counts.flat()),
  };
}

test("on a server that runs frames late, a frame counts from its answer: no fixed window holds more than the rate", async () => {
  // Every worker busy for 9.9 s (cold starts on a loaded machine), then 100 frames a second.
  const most = await simulate({
    tabs: [0], reads: 121, storages: () => mapStorage(new Map()), runs: (now) => (now < 1_009_900 ? 0 : 10),
  });
  assert.ok(most.connection <= RATES.perConnection, `${most.connection} frames of one connection in a window`);
});

test("tabs that see each other's storage late, on a server that runs frames late, keep within the user's rate", async () => {
  // Each tab sees what another wrote 50 ms later (storage crosses processes), so tabs
  // writing one shared list would drop each other's entries; three tabs in 60 rooms, each
  // starting its reads a second after the one before; the server as above.
  const views = [new Map(), new Map(), new Map()];
  const lagging = (clock, n) => ({
    ...mapStorage(views[n]),
    set(k, v) {
      views[n].set(k, v);
      for (const other of views) if (other !== views[n]) clock.setTimeout(() => other.set(k, v), 50);
    },
    remove(k) {
      views[n].delete(k);
      for (const other of views) if (other !== views[n]) clock.setTimeout(() => other.delete(k), 50);
    },
  });
  const most = await simulate({ tabs: [0, 1000, 2000], reads: 121, storages: lagging, runs: (now) => (now < 1_009_900 ? 0 : 30) });
  assert.ok(most.user <= RATES.perUser, `${most.user} of the user's frames in a window`);
});

test("a background read refused for the rate goes again after retryAfter; an action's error is passed on", () => {
  const { clock, connection, socket, seen } = setUp();
  connection.request("getMembers", { roomId: "abcdefghjk" }, { catchUp: 1 }, "background");
  const first = socket().sent.at(-1);
  socket().reply({ type: "error", code: "RATE_LIMITED", retryAfter: 3, ref: first.ref });
  assert.equal(seen.events.length, 0);
  clock.advance(2_900);
  assert.equal(socket().sent.filter((f) => f.action === "getMembers").length, 1);
  clock.advance(500);
  assert.equal(socket().sent.filter((f) => f.action === "getMembers").length, 2);
  connection.request("createRoom", { name: "x" }, { form: 1 });
  socket().reply({ type: "error", code: "RATE_LIMITED", retryAfter: 3, ref: socket().sent.at(-1).ref });
  assert.equal(seen.events.at(-1)[0].code, "RATE_LIMITED");
});

test("a read lost to the gateway's Internal server error goes again once; the user's actions don't", () => {
  const refs = new Clock();
  let n = 0;
  refs.random = () => (n += 1) / 1000; // a ref of its own for each request
  const { clock, connection, socket, seen } = setUp({ clock: refs });
  const reads = () => socket().sent.filter((f) => f.action === "getHistory");
  connection.request("getHistory", { roomId: "abcdefghjk" }, { room: 1 }, "background");
  connection.request("getHistory", { roomId: "mnpqrstvwx" }, { room: 2 }, "background");
  connection.request("sendMessage", { roomId: "abcdefghjk", text: "hi" }, { send: 1 });
  const [first, second] = reads();
  socket().reply({ type: "history", ref: first.ref });
  // The second read's function timed out: the gateway answers without a ref.
  socket().reply({ message: "Internal server error", connectionId: "c", requestId: "r" });
  clock.advance(100);
  assert.deepEqual(reads().map((f) => f.ref), [first.ref, second.ref, second.ref], "only the unanswered read, once");
  assert.equal(socket().sent.filter((f) => f.action === "sendMessage").length, 1);
  socket().reply({ type: "history", ref: second.ref });
  socket().reply({ type: "history", ref: second.ref }); // the first attempt's late answer
  assert.deepEqual(seen.events.filter(([d]) => d.type === "history").map(([, c]) => c.room), [1, 2]);
  // Another failure doesn't send it a third time.
  connection.request("getHistory", { roomId: "zyxwvutsrq" }, { room: 3 }, "background");
  socket().reply({ message: "Internal server error", connectionId: "c", requestId: "r2" });
  socket().reply({ message: "Internal server error", connectionId: "c", requestId: "r3" });
  clock.advance(100);
  assert.equal(reads().length, 5);
});

test("an attempt that never opens is given up after its deadline, and tried again", () => {
  Socket.all = [];
  const clock = new Clock();
  const statuses = [];
  const connection = new Connection({
    url: "ws://chat/", WebSocket: Socket, clock, storage: mapStorage(new Map()),
    on: { open() {}, event() {}, status: (s) => statuses.push(s.status), dropped() {} },
  });
  connection.start();
  clock.advance(9_999);
  assert.equal(statuses.at(-1), "connecting");
  clock.advance(1);
  assert.equal(statuses.at(-1), "offline");
  clock.advance(1_000);
  assert.equal(Socket.all.length, 2);
});

test("after a dead socket, the next one that opens onto nothing is found dead too", () => {
  const { clock, seen, connection } = setUp();
  clock.advance(25_000 + 10_000); // a ping unanswered: dead
  assert.equal(seen.statuses.at(-1).status, "offline");
  clock.advance(5_000);
  assert.equal(Socket.all.length, 2);
  Socket.all[1].opened(); // opens, and nothing ever answers its listRooms
  connection.request("listRooms", {}, {}, "background");
  clock.advance(14_000);
  assert.equal(seen.statuses.at(-1).status, "connecting");
  clock.advance(1_000); // 5 s of silence, then a ping unanswered for 10 s
  assert.equal(seen.statuses.at(-1).status, "offline");
  clock.advance(2_000);
  assert.equal(Socket.all.length, 3);
});

test("a connection the server calls closed (NOT_CONNECTED) is replaced", () => {
  const { clock, socket, seen } = setUp();
  clock.advance(25_000);
  socket().reply({ type: "error", code: "NOT_CONNECTED", message: "this connection is closed; reconnect", ref: socket().sent.at(-1).ref });
  assert.equal(seen.statuses.at(-1).status, "offline");
  clock.advance(1_000);
  assert.equal(Socket.all.length, 2);
});

// The connection: one WebSocket to the chat, and everything that keeps it honest.
//
// - A deadline on every connection attempt, and a heartbeat with a deadline: a `ping` when nothing was sent for 25 s (API Gateway
//   closes a connection idle for 10 minutes), and a socket that answers nothing within
//   10 s of a ping is dead, even if the browser still calls it open.
// - The browser's offline/online events: offline drops the socket at once (the browser
//   would hold its frames and keep calling it open); online and a page coming back into
//   view reconnect at once instead of waiting out the backoff.
// - Reconnection with backoff: min(cap, 1 s × 2^attempt) × a random 0.5–1, the cap 5 s
//   while the page is visible and 30 s while it is hidden; retryNow() skips the wait.
// - Pacing within the server's rates (pacing.js, docs/protocol.md §7): every request passes a
//   sliding-window count of this connection's frames and of the user's (all tabs,
//   through shared storage), so no fixed window of the server's holds more than the
//   rate. The server counts a frame when its function runs, which on a busy server is
//   well after it was sent: a frame counts from when it was sent until 10 s after its
//   answer. The page's own actions may use more of it than background reads; a refused
//   background read waits `retryAfter` and goes again.
//
// No DOM here: the WebSocket, the clock and the storage are passed in (see app.js), so
// Node's test runner drives it with stand-ins.

import { Pacer, RATES } from "./pacing.js";

export { RATES };
const HEARTBEAT_MS = 25000;
const DEADLINE_MS = 10000;
const HELLO_MS = 30000; // for the answer to listRooms, which is slow for a user in many rooms

export class Connection {
  /**
   * url: the WebSocket URL with name and key (or a function giving it); WebSocket: the constructor; clock:
   * {now, setTimeout, clearTimeout, random}; storage: {get(key), set(key, value),
   * keys(prefix), remove(key)} shared by the user's tabs; on: {open, event(data, context), status(info), dropped(contexts)}.
   */
  constructor({ url, WebSocket, clock, storage, on, rates = RATES }) {
    Object.assign(this, { url, WebSocketImpl: WebSocket, clock, storage, on, rates });
    this.socket = null;
    this.open = false;
    this.attempt = 0;
    this.visible = true;
    this.network = true;
    this.retryAt = 0;
    this.timers = {};
    this.pending = new Map(); // ref -> {action, payload, context, kind, written, again}
    this.resent = new Set(); // refs of reads sent twice: the second answer is dropped
    this.queue = []; // requests waiting for room in the rate: {frame, ref, kind}
    this.pacer = new Pacer({ clock, storage, rates, tab: `${this.ref()}${this.ref()}` });
    this.pausedUntil = 0;
    this.lastSent = 0;
    this.lastHeard = 0;
    this.probeSentAt = 0;
    this.stopped = true;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  /** Close for good (a sign-out, or the page going away). */
  stop() {
    this.stopped = true;
    this.clearTimers();
    this.detach(1000);
  }

  connect() {
    if (this.stopped) return;
    this.clear("reconnect");
    this.detach(1000);
    this.status("connecting");
    const socket = new this.WebSocketImpl(typeof this.url === "function" ? this.url() : this.url);
    this.socket = socket;
    // An attempt can hang (a black-holed network): one that hasn't opened within the
    // deadline is given up. One that opens onto nothing is found by the heartbeat.
    this.probeSentAt = 0;
    this.schedule("attempt", DEADLINE_MS, () => { if (this.socket === socket && !this.open) this.lost(4000); });
    socket.addEventListener("open", () => {
      if (this.socket !== socket) return;
      this.clear("attempt");
      // Open, but the server never answered our listRooms (its function failed or timed
      // out: the gateway's "Internal server error" carries no ref): start over.
      this.schedule("hello", HELLO_MS, () => { if (this.socket === socket) this.lost(4000); });
      this.open = true;
      this.lastHeard = this.clock.now();
      this.lastSent = this.lastHeard;
      this.schedule("heartbeat", HEARTBEAT_MS / 5, () => this.beat());
      this.on.open();
    });
    socket.addEventListener("message", (event) => {
      if (this.socket !== socket) return;
      this.heard();
      let data;
      try { data = JSON.parse(event.data); } catch { return; }
      this.receive(data);
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.lost(event.code);
    });
  }

  /** The server answered: the connection is alive and the backoff starts over. */
  connected() {
    this.clear("hello");
    this.attempt = 0;
    this.status("online");
  }

  // Forget the socket (closing it if it is still open); its handlers ignore it from now.
  detach(code) {
    const socket = this.socket;
    this.socket = null;
    this.open = false;
    if (socket && socket.readyState <= 1) {
      try { socket.close(code); } catch { /* already closing */ }
    }
  }

  lost(code) {
    this.detach(1000);
    this.pacer.closeAll();
    this.clear("heartbeat");
    this.clear("deadline");
    this.clear("attempt");
    this.clear("hello");
    this.clear("silence");
    this.clear("flush");
    this.probeSentAt = 0;
    this.queue = [];
    const contexts = [...this.pending.values()];
    this.pending.clear();
    this.resent.clear();
    this.on.dropped(contexts);
    if (this.stopped) return;
    if (code === 1001) this.attempt = 0; // idle timeout or lifetime: come right back
    const cap = this.visible ? 5000 : 30000;
    const delay = Math.min(cap, 1000 * 2 ** this.attempt) * (0.5 + this.clock.random() / 2);
    this.attempt += 1;
    this.retryAt = this.clock.now() + delay;
    this.schedule("reconnect", delay, () => this.connect());
    this.status("offline");
  }

  /** Reconnect now rather than when the backoff says (the user asked, or came back). */
  retryNow() {
    if (this.stopped || this.socket) return;
    this.connect();
  }

  /** The browser's online/offline events. */
  networkChanged(online) {
    this.network = online;
    if (!online) {
      if (this.socket) this.lost(4000); // the browser would hold our frames: don't wait for it
      return;
    }
    if (this.socket && this.open) this.probe();
    else this.retryNow();
  }

  /** The page was hidden or shown again. */
  visibilityChanged(visible) {
    this.visible = visible;
    if (visible && !this.socket && this.retryAt - this.clock.now() > 1000) this.retryNow();
  }

  // --- the heartbeat ---

  heard() {
    this.lastHeard = this.clock.now();
    if (this.probeSentAt) {
      this.probeSentAt = 0;
      this.clear("deadline");
    }
  }

  beat() {
    if (!this.open) return;
    if (this.clock.now() - this.lastSent >= HEARTBEAT_MS) this.probe();
    this.schedule("heartbeat", HEARTBEAT_MS / 5, () => this.beat());
  }

  /** Ask the server for a sign of life; no answer within the deadline means the socket is dead. */
  probe() {
    if (!this.open || this.probeSentAt) return;
    this.probeSentAt = this.clock.now();
    this.write({ action: "ping" }, { kind: "ping" });
    this.schedule("deadline", DEADLINE_MS, () => {
      if (this.probeSentAt && this.lastHeard < this.probeSentAt) this.lost(4000);
    });
  }

  // --- requests ---

  /**
   * Sends a request, now or as soon as the rates allow. kind: "action" (the user's own)
   * or "background" (catch-up reads, sent again by itself after RATE_LIMITED). Returns
   * the ref, or null when not connected (nothing is kept for a later connection).
   */
  request(action, payload = {}, context = {}, kind = "action") {
    if (!this.open) return null;
    const ref = this.ref();
    this.pending.set(ref, { action, payload, context, kind });
    this.queue.push({ frame: { action, ref, ...payload }, ref, kind });
    this.flush();
    return ref;
  }

  /** A typing notice: sent only if the rates have plenty of room, never queued. */
  hint(action, payload) {
    if (!this.open || this.pacer.room("background") < 10) return false;
    this.write({ action, ...payload }, { kind: "hint" });
    return true;
  }

  forget(ref) {
    this.pending.delete(ref);
  }

  /** Drop the requests still waiting for room in the rates whose context matches. */
  cancel(test) {
    this.queue = this.queue.filter((item) => {
      const pending = this.pending.get(item.ref);
      if (!pending || !test(pending)) return true;
      this.pending.delete(item.ref);
      return false;
    });
  }

  /** How many requests are waiting for room in the rates. */
  get waiting() {
    return this.queue.length;
  }

  flush() {
    this.clear("flush");
    const now = this.clock.now();
    if (now < this.pausedUntil) {
      this.schedule("flush", this.pausedUntil - now, () => this.flush());
      return;
    }
    // The user's actions go first, in order; then background reads, in order.
    this.queue.sort((a, b) => (a.kind === "action" ? 0 : 1) - (b.kind === "action" ? 0 : 1));
    while (this.queue.length && this.open) {
      const next = this.queue[0];
      if (this.pacer.room(next.kind) < 1) break;
      this.queue.shift();
      this.write(next.frame, next);
    }
    if (this.queue.length) this.schedule("flush", this.pacer.nextRoomIn(), () => this.flush());
  }

  write(frame, { kind, ref }) {
    if (!this.socket || !this.open) return;
    const now = this.clock.now();
    const pending = ref ? this.pending.get(ref) : undefined;
    if (pending) pending.written = true;
    this.pacer.sent(frame.ref ?? null);
    this.lastSent = now;
    if (kind !== "ping") this.probeIfSilent(now);
    this.socket.send(JSON.stringify(frame));
  }

  // A request waiting long for its answer: make sure the socket is still there.
  probeIfSilent(now) {
    this.schedule("silence", 5000, () => {
      if (this.pending.size && this.lastHeard <= now) this.probe();
    });
  }

  receive(data) {
    this.pacer.answered(data.ref ?? null);
    if (!data.ref && !data.type && typeof data.message === "string") this.readsAgain();
    if (data.ref && this.resent.has(data.ref) && !this.pending.has(data.ref)) {
      this.resent.delete(data.ref); // the other answer to a read sent twice: taken already
      return;
    }
    const pending = data.ref ? this.pending.get(data.ref) : undefined;
    if (data.ref) this.pending.delete(data.ref);
    if (data.type === "error" && data.code === "NOT_CONNECTED") {
      // The server counts this connection as closed: it gets no room's events any more.
      this.lost(4000);
      return;
    }
    if (data.type === "pong" || (pending && pending.action === "ping")) return;
    if (data.type === "error" && data.code === "RATE_LIMITED") {
      // The server counts every frame, ours and our other tabs': wait for its window.
      this.pausedUntil = Math.max(this.pausedUntil, this.clock.now() + (data.retryAfter || 1) * 1000 + 100);
      if (pending && pending.kind === "background") {
        pending.written = false; // queued again
        this.pending.set(data.ref, pending);
        this.queue.unshift({ frame: { action: pending.action, ref: data.ref, ...pending.payload }, ref: data.ref, kind: "background" });
        this.flush();
        return;
      }
    }
    this.on.event(data, pending ? pending.context : undefined, pending ? pending.action : undefined);
  }

  /**
   * The gateway's own answer when a function failed or timed out ("Internal server
   * error") carries no ref, so which request it answers is unknown. The catch-up reads
   * sent and still unanswered go again, once (they only read; the answer that comes
   * second is dropped): otherwise a room lost to one slow read stays without history or
   * members. The user's own actions are not repeated.
   */
  readsAgain() {
    let any = false;
    for (const [ref, pending] of this.pending) {
      if (pending.kind !== "background" || !pending.written || pending.again) continue;
      pending.again = true;
      pending.written = false;
      this.resent.add(ref);
      this.queue.push({ frame: { action: pending.action, ref, ...pending.payload }, ref, kind: "background" });
      any = true;
    }
    if (any) this.flush();
  }

  ref() {
    return Math.floor(this.clock.random() * 2 ** 32).toString(16).padStart(8, "0");
  }

  status(status) {
    this.on.status({ status, retryAt: this.retryAt, attempt: this.attempt, network: this.network });
  }

  schedule(name, ms, fn) {
    this.clear(name);
    this.timers[name] = this.clock.setTimeout(() => { delete this.timers[name]; fn(); }, ms);
  }

  clear(name) {
    if (this.timers[name] !== undefined) this.clock.clearTimeout(this.timers[name]);
    delete this.timers[name];
  }

  clearTimers() {
    for (const name of Object.keys(this.timers)) this.clear(name);
  }
}

// Pacing within the server's rates (docs/protocol.md §6 and §7): a sliding-window count of
// this connection's frames and of the user's, all tabs together through shared storage,
// so that no fixed window of the server's holds more than the rate.
//
// The server counts a frame when its function runs, which on a busy server is seconds
// after it was sent: a frame counts from when it was sent until a window after its
// answer. Each tab keeps its frames under a key of its own (one writer per key: tabs
// rewriting one shared list would drop each other's entries).

export const RATES = { windowMs: 10000, perConnection: 100, perUser: 200 };
// What share of each rate a kind of request may use: the user's own actions first.
const SHARE = { action: 0.9, background: 0.7 };
const STORE = "chat.sent."; // + the tab: [[t, open], ...]
const OPEN_MS = 30000; // a frame unanswered for this long counts as answered then
let created = 0; // pacers made by this page: part of the tab's key

export class Pacer {
  /** clock: {now}; storage: {get, set, keys(prefix), remove} shared by the user's tabs. */
  constructor({ clock, storage, rates = RATES, tab }) {
    Object.assign(this, { clock, storage, rates });
    this.key = `${STORE}${tab}.${(created += 1)}`;
    // This tab's frames still counting: {t, ref, open}; t is when it was sent or, once
    // answered, when the answer came (the server counted it in between).
    this.log = [];
  }

  /** A frame went out; ref: the one its answer will carry, or null (ping, typing). */
  sent(ref) {
    this.log.push({ t: this.clock.now(), ref, open: true });
    this.publish();
  }

  /**
   * Something arrived carrying ref (or none): the server has counted that frame by now.
   * A frame with a ref closes with its answer; one without with the next thing heard.
   */
  answered(ref) {
    const now = this.clock.now();
    const entries = this.log.filter((e) => e.open && (ref ? e.ref === ref : !e.ref));
    for (const entry of ref ? entries.slice(0, 1) : entries) Object.assign(entry, { t: now, open: false });
    if (entries.length) this.publish();
  }

  /** The socket is gone: every frame unanswered is closed as of now. */
  closeAll() {
    const now = this.clock.now();
    for (const entry of this.log) if (entry.open) Object.assign(entry, { t: now, open: false });
    this.publish();
  }

  /** How many more frames of this kind fit in the last window, of this connection and of the user. */
  room(kind) {
    const now = this.clock.now();
    this.log = this.counting(this.log, now);
    const share = SHARE[kind] ?? SHARE.action;
    const mine = Math.floor(this.rates.perConnection * share) - this.log.length;
    const ours = Math.floor(this.rates.perUser * share) - this.log.length - this.others(now).length;
    return Math.min(mine, ours);
  }

  /** When to look again: when the soonest answered frame stops counting (open ones by polling). */
  nextRoomIn() {
    const now = this.clock.now();
    const closed = [...this.log, ...this.others(now)].filter((e) => !e.open);
    const soonest = Math.min(...closed.map((e) => this.until(e, now)), now + 500);
    return Math.max(50, soonest - now + 10);
  }

  // When a frame stops counting: a window after its answer; an open one counts as of now.
  until(entry, now) {
    const answered = entry.open ? Math.min(now, entry.t + OPEN_MS) : entry.t;
    return answered + this.rates.windowMs;
  }

  counting(entries, now) {
    return entries.filter((e) => this.until(e, now) > now);
  }

  publish() {
    this.log = this.counting(this.log, this.clock.now());
    this.storage.set(this.key, this.log.map((e) => [e.t, e.open ? 1 : 0]));
  }

  // The other tabs' frames still counting; a closed tab's key goes once nothing in it counts.
  others(now) {
    const entries = [];
    for (const key of this.storage.keys(STORE)) {
      if (key === this.key) continue;
      const kept = this.storage.get(key);
      const theirs = Array.isArray(kept)
        ? kept.filter((e) => Array.isArray(e) && typeof e[0] === "number" && e[0] <= now + 1000).map(([t, open]) => ({ t, open: open === 1 }))
        : [];
      const counting = this.counting(theirs, now);
      if (counting.length) entries.push(...counting);
      else this.storage.remove(key);
    }
    return entries;
  }
}

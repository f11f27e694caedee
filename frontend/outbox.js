// Sending the outbox: each room's messages go one at a time, in the order written
// (the state's nextToSend says which), each under a timer. An unanswered message goes
// once more with the same id (the server stores it at most once), then shows as failed
// with Retry.

import { nextRetryAt, nextToSend } from "./selectors.js";

const SEND_TIMEOUT_MS = 10000;
const SEND_TRIES = 2; // an unanswered message goes once more (same id) before it shows as failed

export class Outbox {
  /** `connection()` and `state()` are the page's as they are now; `dispatch` takes the outbox's actions. */
  constructor({ connection, state, dispatch }) {
    this.connection = connection;
    this.state = state;
    this.dispatch = dispatch;
    this.sends = new Map(); // messageId -> {ref, tries, timer}
    this.pump = this.pump.bind(this);
  }

  /** Send what may go now; come back when a message held for the rate may go. */
  pump() {
    const connection = this.connection();
    if (!connection || this.state().connection !== "online") return;
    const now = Date.now();
    for (const entry of nextToSend(this.state(), now)) {
      if (this.sends.has(entry.messageId)) continue;
      const context = { messageId: entry.messageId, roomId: entry.roomId };
      const ref = connection.request("sendMessage", { roomId: entry.roomId, messageId: entry.messageId, text: entry.text }, context, "action");
      if (!ref) return;
      const send = { ref, tries: (entry.tries || 0) + 1 };
      send.timer = setTimeout(() => this.unanswered(entry.messageId), SEND_TIMEOUT_MS);
      this.sends.set(entry.messageId, send);
      this.dispatch({ action: "sending", messageId: entry.messageId });
    }
    const retryAt = nextRetryAt(this.state());
    if (retryAt && retryAt > now) setTimeout(this.pump, retryAt - now + 20);
  }

  // No answer in time: the same id goes once more (it is stored at most once), then the
  // message shows as failed with Retry.
  unanswered(messageId) {
    const send = this.sends.get(messageId);
    if (!send) return;
    this.connection().forget(send.ref);
    this.sends.delete(messageId);
    if (send.tries < SEND_TRIES) this.dispatch({ action: "retry", messageId, tries: send.tries }); else this.dispatch({ action: "sendFailed", messageId, reason: "No answer from the server." });
  }

  /** The server answered (stored it, or refused it): its timer stops. */
  settled(messageId) {
    const send = this.sends.get(messageId);
    if (send) clearTimeout(send.timer);
    this.sends.delete(messageId);
  }

  /** The reader retries a failed message: it may go again. */
  forget(messageId) {
    this.sends.delete(messageId);
  }

  /** The connection dropped: nothing is on its way any more. */
  dropped() {
    for (const send of this.sends.values()) clearTimeout(send.timer);
    this.sends.clear();
  }
}

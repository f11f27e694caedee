// What this browser keeps between visits, in localStorage: the reader's secret key and
// name, the open room, drafts, the outbox and what was read. Storage that is full or
// turned off loses what it can't keep, never the page.

export const KEYS = {
  key: "chat.key", name: "chat.name", room: "chat.room", drafts: "chat.drafts",
  outbox: "chat.outbox", // messages not yet acknowledged, in order, to send again by id
  read: "chat.read", // per room, the newest entry the reader has seen
};

export const stored = (key, fallback) => {
  try { return JSON.parse(localStorage.getItem(key)) ?? fallback; } catch { return fallback; }
};
export const keep = (key, value) => {
  try { localStorage.setItem(key, JSON.stringify(value)); } catch { /* storage full or off */ }
};
export const storedKeys = (prefix) => {
  try { return Object.keys(localStorage).filter((key) => key.startsWith(prefix)); } catch { return []; }
};
export const randomHex = (bytes) => Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");

// The reader's identity: a random 128-bit key that never leaves this browser but on connect.
export function secretKey() {
  let key = localStorage.getItem(KEYS.key);
  if (!key || !/^[0-9a-f]{32}$/.test(key)) {
    key = randomHex(16);
    localStorage.setItem(KEYS.key, key);
  }
  return key;
}
export const signedIn = () => Boolean(localStorage.getItem(KEYS.name));


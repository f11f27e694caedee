// Words and text rules the page shares: the server's limits, links in messages, and
// how errors and notices read. No DOM here, so Node's test runner can check it all.

export const LIMITS = { name: 32, room: 64, text: 2000 }; // the server's, in code points

export const codePoints = (text) => [...text].length;

export const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** Why a display name can't be used, or null: the server's rule (docs/protocol.md §1). */
export function nameProblem(name) {
  const invisible = /[\p{Cc}\p{Zl}\p{Zp}]|(?!\u200d)\p{Cf}/u;
  if (codePoints(name) > LIMITS.name) return `Names can be at most ${LIMITS.name} characters.`;
  if (!name || invisible.test(name) || !/[^\s\p{M}\p{Cf}]/u.test(name)) {
    return "Use 1 to 32 visible characters.";
  }
  return null;
}

// What a notice in the conversation says about its member, in the third and second person.
const NOTICE_WORDS = {
  joined: ["joined the room", "joined the room"],
  left: ["left the room", "left the room"],
  removed: ["was removed by the admin", "were removed by the admin"],
  admin: ["is now the room's admin", "are now the room's admin"],
};

/** "Sam joined the room", "You are now the room's admin". */
export function noticeText(kind, who, isYou) {
  const words = NOTICE_WORDS[kind];
  if (!words) return `${isYou ? "You" : who}: ${kind}`;
  return isYou ? `You ${words[1]}` : `${who} ${words[0]}`;
}

const CLOSERS = { ")": "(", "]": "[", "}": "{" };
const TRAILING = new Set([".", ",", ";", ":", "!", "?", "'", '"']);

function count(text, ch) {
  let n = 0;
  for (const c of text) if (c === ch) n += 1;
  return n;
}

// A URL found in running text ends before trailing punctuation, and before a closing
// bracket that has no opening one inside it: "(see https://x.org/a_(b))" links
// "https://x.org/a_(b)".
function trimLink(candidate) {
  let href = candidate;
  for (;;) {
    const last = href.at(-1);
    if (TRAILING.has(last)) href = href.slice(0, -1);
    else if (CLOSERS[last] && count(href, last) > count(href, CLOSERS[last])) href = href.slice(0, -1);
    else return href;
  }
}

/** Text cut into parts: {text} and {text, href} for each http(s) link. */
export function linkParts(text) {
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(/https?:\/\/[^\s<>"]+/gi)) {
    const href = trimLink(match[0]);
    let url;
    try { url = new URL(href); } catch { continue; }
    if (url.protocol !== "http:" && url.protocol !== "https:") continue;
    if (match.index > last) parts.push({ text: text.slice(last, match.index) });
    parts.push({ text: href, href: url.href });
    last = match.index + href.length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}

const FIELD_NAMES = { text: "Messages", name: "Names", roomId: "Room ids" };

/** An error event, as a sentence for the person who caused it. */
export function friendly(error, action = "") {
  if (error.code === "INVALID_PAYLOAD" && error.limit && FIELD_NAMES[error.field]) {
    const field = action === "createRoom" && error.field === "name" ? "Room names" : FIELD_NAMES[error.field];
    return `${field} can be at most ${error.limit} characters.`;
  }
  if (error.code === "INVALID_PAYLOAD" && error.field === "roomId") {
    return "That isn't a room id: ids are 10 letters and digits, like k7m2qh9xpa.";
  }
  if (error.code === "ROOM_NOT_FOUND") return "There's no room with that id. Check it with whoever shared it.";
  if (error.code === "NOT_MEMBER") return "You're not a member of that room any more.";
  if (error.code === "RATE_LIMITED") {
    return `You're sending faster than the server takes. Wait ${plural(error.retryAfter || 1, "second")} and try again.`;
  }
  if (error.code === "LIMIT_REACHED") return `${error.message[0].toUpperCase()}${error.message.slice(1)}.`;
  if (error.code === "REPLY_TOO_LARGE") return "The server's answer was too large to send.";
  if (error.code === "UNKNOWN_ACTION" && action === "rename") {
    return "This server can't rename you yet. Your name is unchanged.";
  }
  return error.message || "Something went wrong. Please try again.";
}

/** Whether the server refused a request only for now: the same request succeeds later. */
export function transient(error) {
  return error.code === "RATE_LIMITED";
}

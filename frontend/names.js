// Names as people see them. A display name is free text: two people may pick the same
// one, or two that look the same on screen ("Anna" and "Аnna" with a Cyrillic А, "René"
// typed with one code point or two). Wherever a name is shown, such names are told apart
// by the start of the user id, which is each user's own.

// Letters of other scripts that are drawn like a Latin one (after lower-casing), and
// Latin letters and digits that are easy to mistake for each other in a sans-serif face.
const LOOKALIKES = new Map(Object.entries({
  // Cyrillic
  "а": "a", "в": "b", "е": "e", "ё": "e", "һ": "h", "н": "h", "і": "i", "ї": "i",
  "ј": "j", "к": "k", "ӏ": "i", "м": "m", "о": "o", "р": "p", "ԛ": "q", "ѕ": "s",
  "т": "t", "у": "y", "ԝ": "w", "х": "x", "с": "c", "ԁ": "d", "ь": "b", "з": "3",
  // Greek
  "α": "a", "β": "b", "γ": "y", "ε": "e", "ζ": "z", "η": "n", "ι": "i", "κ": "k",
  "μ": "m", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w",
  // Latin and digits
  "l": "i", "1": "i", "|": "i", "!": "i", "0": "o", "5": "s",
}));

/** What a name looks like, reduced so that look-alike names compare equal. */
export function skeleton(name) {
  const plain = name
    .normalize("NFKD") // full-width and other compatibility forms; accents apart
    .replace(/\p{M}/gu, "") // then without them: "René" whichever way it was typed
    .toLocaleLowerCase("und")
    .replace(/\s+/gu, " ")
    .trim();
  let out = "";
  for (const ch of plain) out += LOOKALIKES.get(ch) ?? ch;
  return out.replace(/rn/g, "m").replace(/vv/g, "w");
}

/** The short mark that tells a user apart: the start of the user id. */
export function userTag(userId) {
  return `#${userId.slice(1, 5)}`;
}

/**
 * Who goes by which look-alike name in a room: its members and everyone its loaded
 * messages are by or about. `people` is an iterable of {userId, name}.
 */
export function nameIndex(people) {
  const index = new Map(); // skeleton -> Set of user ids
  for (const { userId, name } of people) {
    if (!userId || typeof name !== "string") continue;
    const key = skeleton(name);
    if (!index.has(key)) index.set(key, new Set());
    index.get(key).add(userId);
  }
  return index;
}

/** A name as shown: with the user's tag when someone else in the index looks the same. */
export function labelIn(index, userId, name) {
  const same = index.get(skeleton(name));
  return same && [...same].some((other) => other !== userId) ? `${name} ${userTag(userId)}` : name;
}

export function initials(name) {
  return name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => [...w][0].toUpperCase()).join("") || "?";
}

/** A colour of the user's own, dark enough for white initials at any hue. */
export function colour(userId) {
  let h = 0;
  for (const ch of userId) h = (h * 31 + ch.charCodeAt(0)) % 360;
  return `hsl(${h} 55% 28%)`;
}

// Building and updating the page. Everything a user reads goes on the page with
// textContent, never as HTML, and lists are updated in place (keyed by id), so focus,
// scroll position and screen readers' live regions survive every event.

export const $ = (id) => document.getElementById(id);

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function button(text, className, onClick, label) {
  const node = el("button", className, text);
  node.type = "button";
  if (label) node.setAttribute("aria-label", label);
  node.addEventListener("click", onClick);
  return node;
}

export const isNarrow = () => matchMedia("(max-width: 900px)").matches;

const FOCUSABLE = "button:not([disabled]), a[href], textarea, input, [tabindex]";

// Moves a node keeping its focus: moveBefore() where the browser has it, else
// insertBefore() and the focus put back on the same node.
function place(parent, node, before) {
  if (parent.moveBefore && node.isConnected && node.parentNode === parent) {
    try { parent.moveBefore(node, before); return; } catch { /* fall through */ }
  }
  const active = document.activeElement;
  const had = active && node.contains(active) && active !== document.body;
  parent.insertBefore(node, before);
  if (had && document.activeElement !== active) active.focus({ preventScroll: true });
}

/**
 * Brings parent's children in line with items ({key, sig, create, update}): nodes are
 * kept by key and changed only when their signature changes. Focus follows the item it
 * was on, wherever the item moves; when the item itself goes, `lostFocus(index)` says
 * where to put it (default: the nearest item, never <body>).
 */
export function reconcile(parent, items, lostFocus) {
  const existing = new Map();
  for (const child of parent.children) existing.set(child.dataset.key, child);
  const wanted = new Set(items.map((item) => item.key));
  const active = document.activeElement;
  const hadFocus = parent.contains(active) && active !== parent;
  let focusIndex = -1;
  [...parent.children].forEach((child, i) => { if (child.contains(active)) focusIndex = i; });
  for (const [key, child] of existing) if (!wanted.has(key)) child.remove();
  let cursor = parent.firstElementChild;
  for (const item of items) {
    let node = existing.get(item.key);
    if (!node) {
      node = item.create();
      node.dataset.key = item.key;
    }
    if (node.sig !== item.sig) {
      item.update(node);
      node.sig = item.sig;
    }
    if (node !== cursor) place(parent, node, cursor);
    else cursor = cursor.nextElementSibling;
  }
  if (hadFocus && !parent.contains(document.activeElement)) {
    if (lostFocus) lostFocus(focusIndex);
    else refocus(parent, focusIndex);
  }
}

// What had the focus went away with a list's update: put it on what is now at its place.
export function refocus(parent, index) {
  const near = parent.children[Math.min(index, parent.children.length - 1)];
  const target = (near && (near.matches(FOCUSABLE) ? near : near.querySelector(FOCUSABLE)))
    || parent.closest("[tabindex]")
    || parent.closest("section, aside, nav, main").querySelector("h2, h3");
  if (!target) return;
  if (!target.matches(FOCUSABLE)) target.tabIndex = -1;
  target.focus();
}

/**
 * A roving tab stop: of `items` (elements), only the current one is in the Tab order;
 * arrows, Home and End move between them. `current` is kept by the caller's key.
 */
export function roving(container, { items, keyOf, onMove, orientation = "vertical" }) {
  container.addEventListener("keydown", (event) => {
    const list = items();
    const index = list.findIndex((item) => item === event.target || item.contains(event.target));
    if (index < 0 || (event.target !== list[index] && !event.target.matches("button, a"))) return;
    const back = orientation === "vertical" ? "ArrowUp" : "ArrowLeft";
    const forth = orientation === "vertical" ? "ArrowDown" : "ArrowRight";
    let to = null;
    if (event.key === back) to = Math.max(0, index - 1);
    else if (event.key === forth) to = Math.min(list.length - 1, index + 1);
    else if (event.key === "Home" && event.target === list[index]) to = 0;
    else if (event.key === "End" && event.target === list[index]) to = list.length - 1;
    else if (event.key === "PageUp" && event.target === list[index]) to = Math.max(0, index - 10);
    else if (event.key === "PageDown" && event.target === list[index]) to = Math.min(list.length - 1, index + 10);
    if (to === null) return;
    event.preventDefault();
    onMove(keyOf(list[to]));
    list[to].focus();
  });
}

/** Keep one of `list` tabbable (the one whose key is `current`, else the last) and the
 * rest not; `inner`: the controls inside the others leave the Tab order too. */
export function setTabStop(list, current, keyOf, { inner = false } = {}) {
  const chosen = list.find((item) => keyOf(item) === current) || list.at(-1) || null;
  for (const item of list) {
    const wanted = item === chosen ? 0 : -1;
    if (item.tabIndex !== wanted) item.tabIndex = wanted;
    if (!inner) continue;
    for (const control of item.querySelectorAll("button, a[href], textarea")) {
      if (control.tabIndex !== wanted) control.tabIndex = wanted;
    }
  }
  return chosen;
}

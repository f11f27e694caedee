// The open room's conversation: messages grouped by author and minute with day
// separators, the "New messages" line, the reader's place, and one Tab stop for the
// whole list (arrows move between messages; a message's own actions follow it).

import { $, button, el, reconcile, roving, setTabStop } from "./dom.js";
import { conversation, isMine, keyOf, label, markerOf, unreadCount } from "./selectors.js";
import { LIMITS, codePoints, linkParts, noticeText, plural } from "./text.js";

const NEAR_BOTTOM_PX = 48;

const place = {
  roomId: null, // the room shown
  stuck: true, // the reader is at the latest message, and stays there whatever appears
  landing: false, // the room was just opened: show its first unread message, or the end
  top: 0, // the list's scrollTop as this view last saw or left it
  active: null, // the key of the message that is the list's Tab stop
};

let actions = null;
let current = { state: null, ui: null };

export function setUp(callbacks) {
  actions = callbacks;
  const box = $("messages");
  // A panel appearing above the conversation (a join request, a hint) shrinks it, and
  // a new message grows it: a reader who was at the latest message stays there.
  const stay = () => { if (place.stuck && place.roomId) toEnd(box); };
  new ResizeObserver(stay).observe(box);
  new ResizeObserver(stay).observe($("message-list"));
  box.addEventListener("scroll", () => {
    place.stuck = nearBottom(box);
    place.top = box.scrollTop;
    report();
  });
  roving($("message-list"), {
    items: () => entryNodes(),
    keyOf: (node) => node.dataset.key,
    onMove: (key) => { place.active = key; tabStop(); },
  });
  $("message-list").addEventListener("focusout", () => queueMicrotask(tabStop));
  $("message-list").addEventListener("focusin", (event) => {
    const entry = event.target.closest("[data-entry]");
    if (entry) place.active = entry.dataset.key;
    tabStop();
  });
  $("jump").addEventListener("click", () => {
    place.stuck = true;
    toEnd(box);
    place.active = null;
    tabStop();
    const last = entryNodes().at(-1);
    (last || box).focus();
    report();
  });
}

/** Scroll to the latest message, and remember where the browser put the list. */
function toEnd(box) {
  box.scrollTop = box.scrollHeight;
  place.top = box.scrollTop; // as the browser clamped it
}

const nearBottom = (box) => box.scrollHeight - box.scrollTop - box.clientHeight < NEAR_BOTTOM_PX;

function report() {
  const box = $("messages");
  actions.viewed(place.roomId ? nearBottom(box) : true);
}

function entryNodes() {
  return [...$("message-list").querySelectorAll(":scope > [data-entry]")];
}

// The list's current message is its one Tab stop; the links and buttons inside it join
// the Tab order only while the keyboard is in the list.
function tabStop() {
  const list = $("message-list");
  const chosen = setTabStop(entryNodes(), place.active, (node) => node.dataset.key, { inner: true });
  if (chosen && !list.contains(document.activeElement)) {
    for (const control of chosen.querySelectorAll("button, a[href], textarea")) control.tabIndex = -1;
  }
}

/** A room was opened: show it from its first unread message (or its end). */
export function opened(roomId) {
  place.roomId = roomId;
  place.stuck = true;
  place.landing = true;
  place.active = null;
  $("message-list").replaceChildren();
}

/** Show the latest message (after the reader sent one). */
export function stick() {
  place.stuck = true;
  place.top = $("messages").scrollTop; // where the reader is now: the next render keeps stuck
}

/** Focus the list's Tab stop (its current message). */
export function focusList() {
  const stop = entryNodes().find((node) => node.tabIndex === 0);
  (stop || $("messages")).focus();
}

export function render(state, ui) {
  current = { state, ui };
  const room = place.roomId && state.rooms.get(place.roomId);
  const box = $("messages");
  const list = $("message-list");
  if (!room || room.status !== "approved") return;
  // The reader scrolled since, and the browser hasn't said so yet (it does once a frame):
  // where they are now decides, not where they were.
  if (!place.landing && box.scrollTop !== place.top) place.stuck = nearBottom(box);
  // The reader's place: the first entry on screen, and where it is now.
  let anchor = null;
  let anchorTop = 0;
  for (const child of list.children) {
    if (child.offsetTop + child.offsetHeight > box.scrollTop) { anchor = child; anchorTop = child.offsetTop; break; }
  }
  reconcile(list, entries(state, ui, room), (index) => {
    const nodes = entryNodes();
    const near = nodes[Math.min(index, nodes.length - 1)];
    (near || $("message-input")).focus();
  });
  tabStop();
  if (place.landing && (room.loaded || room.messages.size)) {
    place.landing = !room.loaded; // land again when the history arrives
    const marker = list.querySelector(".new-marker");
    if (marker && box.scrollHeight - marker.offsetTop > box.clientHeight) {
      // More is unread than the screen holds: start at the first unread message.
      box.scrollTop = marker.offsetTop - 8;
      place.stuck = nearBottom(box);
    } else {
      box.scrollTop = box.scrollHeight;
      place.stuck = true;
    }
  } else if (place.stuck) {
    box.scrollTop = box.scrollHeight;
  } else if (anchor && anchor.isConnected) {
    box.scrollTop += anchor.offsetTop - anchorTop;
  }
  place.top = box.scrollTop;
  const unread = unreadCount(state, room);
  const jump = $("jump");
  const showJump = !place.stuck && unread > 0;
  jump.hidden = !showJump;
  jump.textContent = showJump ? `${plural(unread, "new message")} — jump to latest` : "Jump to latest";
  renderTyping(state, room, ui.now);
  queueMicrotask(report);
}

function renderTyping(state, room, now) {
  const names = [...room.typing.entries()].filter(([, t]) => t.until > now)
    .map(([userId, t]) => label(room, userId, t.name));
  const text = names.length === 0 ? "" : names.length === 1
    ? `${names[0]} is typing…` : `${names.slice(0, -1).join(", ")} and ${names.at(-1)} are typing…`;
  if ($("typing-line").textContent !== text) $("typing-line").textContent = text;
}

// --- the entries ---

function dayLabel(date) {
  const today = new Date();
  const yesterday = new Date(today);
  yesterday.setDate(today.getDate() - 1);
  if (date.toDateString() === today.toDateString()) return "Today";
  if (date.toDateString() === yesterday.toDateString()) return "Yesterday";
  const options = { weekday: "long", month: "long", day: "numeric" };
  if (date.getFullYear() !== today.getFullYear()) options.year = "numeric";
  return date.toLocaleDateString([], options);
}

const minuteOf = (date) => `${date.toDateString()} ${date.getHours()}:${date.getMinutes()}`;

function entries(state, ui, room) {
  const items = [];
  if (room.more) items.push(olderItem(room));
  const all = conversation(state, room);
  if (!all.length) items.push({ key: "empty", sig: "", create: () => el("li", "system", "No messages yet. Say hello!"), update() {} });
  const marker = markerOf(state, room);
  let markerShown = false;
  let day = null;
  let previous = null;
  for (const { message: m, outgoing } of all) {
    const date = new Date(m.sentAt);
    if (date.toDateString() !== day) {
      day = date.toDateString();
      const text = dayLabel(date);
      items.push({
        key: `day:${day}`, sig: text,
        create: () => el("li", "day"),
        update: (li) => li.replaceChildren(el("span", "", text)),
      });
      previous = null;
    }
    if (marker !== null && !markerShown && !m.local && keyOf(m) > marker && m.kind === "text" && !isMine(state, m)) {
      markerShown = true;
      items.push({ key: "new", sig: "", create: () => el("li", "new-marker", "New messages"), update() {} });
    }
    const continued = Boolean(previous && previous.kind === "text" && m.kind === "text"
      && previous.userId === m.userId && minuteOf(new Date(previous.sentAt)) === minuteOf(date));
    items.push(m.kind === "text" ? messageItem(state, ui, room, m, outgoing, continued) : noticeItem(state, room, m));
    previous = m;
  }
  return items;
}

function olderItem(room) {
  return {
    key: "older", sig: room.older || "",
    create: () => el("li", "system"),
    update: (li) => li.replaceChildren(button("Load older messages", "small-button", () => actions.loadOlder(room))),
  };
}

function noticeItem(state, room, m) {
  const mine = isMine(state, m);
  const text = noticeText(m.kind, label(room, m.userId, m.name), mine);
  return {
    key: m.messageId, sig: text,
    create: () => {
      const li = el("li", `notice-entry ${m.kind}`);
      li.dataset.entry = "notice";
      li.tabIndex = -1;
      return li;
    },
    update: (li) => li.replaceChildren(el("span", "", text), timeOf(m)),
  };
}

function timeOf(m) {
  const date = new Date(m.sentAt);
  const time = el("time", "", date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
  time.dateTime = m.sentAt;
  time.title = date.toLocaleString();
  return time;
}

// What a message on its way says, in words.
function outgoingState(state, outgoing, ui) {
  const now = ui.now;
  if (!outgoing) return null;
  if (outgoing.status === "failed") return { text: `Not sent: ${outgoing.error}`, failed: true };
  if (state.connection !== "online") return { text: "Sending when back online" };
  const until = Math.max(outgoing.retryAt, ui.slowUntil || 0);
  if (until > now) {
    const seconds = Math.max(1, Math.ceil((until - now) / 1000));
    return { text: `The server asked us to slow down: sending in ${seconds} s` };
  }
  if (outgoing.status === "queued") return { text: "Waiting to send…" };
  return { text: "Sending…" };
}

function messageItem(state, ui, room, m, outgoing, continued) {
  const mine = isMine(state, m);
  const editing = ui.editing === m.messageId;
  const author = label(room, m.userId, m.name);
  const pending = outgoingState(state, outgoing, ui);
  const sig = JSON.stringify([m.text, author, m.editedAt, m.deletedAt, m.version, pending, continued, mine, editing]);
  return {
    key: m.messageId, sig,
    create: () => {
      const li = el("li");
      li.dataset.entry = "message";
      li.tabIndex = -1;
      return li;
    },
    update(li) {
      li.className = ["message", mine && "mine", continued && "continued", pending && (pending.failed ? "failed" : "sending"),
        m.deletedAt && "deleted"].filter(Boolean).join(" ");
      const meta = el("div", continued ? "meta visually-hidden" : "meta");
      meta.append(el("span", "author", mine ? "You" : author), timeOf(m));
      if (editing) { li.replaceChildren(meta, editForm(room, m)); return; }
      const bubble = el("div", "bubble");
      if (m.deletedAt) bubble.textContent = "This message was deleted.";
      else {
        for (const part of linkParts(m.text)) {
          if (!part.href) { bubble.append(part.text); continue; }
          const link = el("a", "", part.text);
          link.href = part.href;
          link.rel = "noopener noreferrer";
          link.target = "_blank";
          bubble.append(link);
        }
      }
      const parts = [meta, bubble];
      const foot = el("div", "message-foot");
      if (pending) {
        foot.append(el("span", pending.failed ? "state failed-text" : "state", pending.text));
        if (pending.failed) {
          foot.append(
            button("Retry", "small-button", () => actions.retry(m.messageId), "Retry sending"),
            button("Discard", "small-button", () => actions.discard(m.messageId, m.text), "Discard this message"),
          );
        }
      }
      if (m.editedAt && !m.deletedAt) foot.append(el("span", "state", "edited"));
      if (mine && !pending && !m.deletedAt && !m.local) {
        const tools = el("span", "message-actions");
        tools.append(
          button("Edit", "small-button quiet", () => actions.startEdit(m.messageId), "Edit your message"),
          button("Delete", "small-button quiet", () => actions.confirmDelete(room, m), "Delete your message"),
        );
        foot.append(tools);
        if (foot.childNodes.length === 1) foot.classList.add("only-actions");
      }
      if (foot.childNodes.length) parts.push(foot);
      li.replaceChildren(...parts);
    },
  };
}

function editForm(room, m) {
  const form = el("form", "edit-form");
  form.noValidate = true;
  const caption = el("label", "visually-hidden", "Edit message");
  const box = el("textarea");
  box.id = `edit-${m.messageId}`;
  caption.htmlFor = box.id;
  box.value = m.text;
  box.rows = Math.min(6, m.text.split("\n").length + 1);
  const cancel = () => actions.cancelEdit();
  const save = () => {
    const text = box.value.trim();
    if (!text || codePoints(text) > LIMITS.text) {
      actions.formError(form, text ? `Messages can be at most ${LIMITS.text} characters.` : "A message can't be empty; delete it instead.");
      return;
    }
    if (text === m.text) { cancel(); return; }
    actions.saveEdit(form, room, m, text);
  };
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); save(); }
    if (event.key === "Escape") { event.preventDefault(); event.stopPropagation(); cancel(); }
    event.stopPropagation(); // the arrows move the caret here, not between messages
  });
  form.addEventListener("submit", (event) => { event.preventDefault(); save(); });
  const buttons = el("div", "row");
  const saveButton = el("button", "primary small-button", "Save");
  saveButton.type = "submit";
  buttons.append(saveButton, button("Cancel", "small-button", cancel));
  form.append(caption, box, buttons);
  requestAnimationFrame(() => { box.focus(); box.setSelectionRange(box.value.length, box.value.length); });
  return form;
}

/** Re-render with the last state (a countdown moved on). */
export function refresh(now) {
  if (current.state) render(current.state, { ...current.ui, now });
}

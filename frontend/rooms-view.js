// The room list: rooms by latest activity with a preview, unread and request counts,
// and one Tab stop for the whole list (arrows move between rooms). Keyboard focus
// follows the room it is on when activity moves that room up the list.

import { $, button, el, reconcile, roving, setTabStop } from "./dom.js";
import { pendingRequests, preview, sortedRooms, unreadCount } from "./selectors.js";

let active = null; // the room whose entry is the list's Tab stop
const keyOf = (node) => node.closest("[data-key]").dataset.key;

export function setUp({ choose }) {
  const list = $("room-list");
  roving(list, {
    items: () => [...list.querySelectorAll(".room-item")],
    keyOf,
    onMove: (key) => { active = key; tabStop(); },
  });
  list.addEventListener("focusin", (event) => {
    const item = event.target.closest(".room-item");
    if (item) { active = keyOf(item); tabStop(); }
  });
  list.addEventListener("click", (event) => {
    const item = event.target.closest(".room-item");
    if (item) choose(keyOf(item));
  });
}

function tabStop() {
  const items = [...$("room-list").querySelectorAll(".room-item")];
  const open = items.find((item) => item.getAttribute("aria-current") === "true");
  const chosen = items.some((item) => keyOf(item) === active) ? active
    : open ? keyOf(open) : items.length ? keyOf(items[0]) : null;
  setTabStop(items, chosen, keyOf);
}

/** Requests waiting plus, outside the open room, messages unread. */
export function roomCount(state, room, current) {
  return (room.roomId === current ? 0 : unreadCount(state, room)) + pendingRequests(room).length;
}

export function render(state) {
  const current = state.view.current;
  const items = sortedRooms(state).map((room) => {
    const requests = pendingRequests(room).length;
    const isCurrent = room.roomId === current;
    const tag = room.status !== "approved" ? room.status : room.role === "admin" ? "admin" : "";
    const count = roomCount(state, room, current);
    const text = preview(state, room);
    return {
      key: room.roomId,
      sig: JSON.stringify([room.name, isCurrent, tag, count, requests, text]),
      create() {
        const li = el("li");
        li.append(button("", "room-item", () => {}));
        return li;
      },
      update(li) {
        const choose = li.firstElementChild;
        choose.setAttribute("aria-current", String(isCurrent));
        const top = el("span", "room-line");
        top.append(el("span", "room-name", room.name));
        if (tag) top.append(el("span", `tag ${tag}`, tag));
        if (count) {
          const badge = el("span", "badge", String(count));
          badge.setAttribute("aria-hidden", "true");
          const words = requests ? `${count} new (${requests} waiting to join)` : `${count} unread`;
          top.append(badge, el("span", "visually-hidden", `, ${words}`));
        }
        choose.replaceChildren(top, el("span", "room-preview", text));
      },
    };
  });
  reconcile($("room-list"), items);
  tabStop();
  $("no-rooms").hidden = state.rooms.size > 0;
}

// The open room's members (roles, presence, the admin's tools) and its join requests.

import { $, button, el, isNarrow, reconcile } from "./dom.js";
import { colour, initials } from "./names.js";
import { label, pendingRequests } from "./selectors.js";

let actions = null;

export function setUp(callbacks) {
  actions = callbacks;
}

export function render(state, room) {
  renderRequests(room);
  renderMembers(state, room);
}

function renderRequests(room) {
  const pending = room ? pendingRequests(room) : [];
  $("requests-panel").hidden = !pending.length;
  $("request-count").textContent = pending.length ? String(pending.length) : "";
  $("notify").hidden = !(pending.length && "Notification" in window && Notification.permission === "default");
  const items = pending.map((m) => {
    const name = label(room, m.userId, m.name);
    return {
      key: `${room.roomId} ${m.userId}`, // its buttons act on this room: another's card is new
      sig: JSON.stringify([name, m.online]),
      create: () => el("li", "request"),
      update(li) {
        const who = el("span", "who");
        who.append(el("span", "name", name), el("span", "muted small", m.online ? " wants to join · online" : " wants to join · offline"));
        const decide = (op) => () => actions.decide(room, m, op);
        const buttons = el("div", "actions");
        buttons.append(
          button("Approve", "approve", decide("approve"), `Approve ${name}`),
          button("Reject", "reject", decide("reject"), `Reject ${name}`),
        );
        li.replaceChildren(who, buttons);
      },
    };
  });
  // The card goes when its decision is made: on to the next one, or the message box.
  reconcile($("requests"), items, () => {
    const next = document.querySelector("#requests .approve");
    if (next) next.focus();
    else if (isNarrow()) $("room-title").focus();
    else $("message-input").focus();
  });
}

function renderMembers(state, room) {
  const list = $("member-list");
  if (!room) { reconcile(list, []); return; }
  const admin = room.role === "admin";
  const known = state.connection === "online";
  const items = room.members.map((m) => {
    const you = Boolean(state.me && m.userId === state.me.userId);
    const presence = m.status === "pending" ? "pending approval" : !known ? "status unknown while offline" : m.online ? "online" : "offline";
    const manage = admin && !you && m.status === "approved" && m.role !== "admin";
    const shown = label(room, m.userId, m.name);
    return {
      key: `${room.roomId} ${m.userId}`, // its buttons act on this room: another's entry is new
      sig: JSON.stringify([shown, m.role, m.status, presence, you, manage]),
      create: () => el("li", "member"),
      update(li) {
        const avatar = el("span", "avatar", initials(m.name));
        avatar.style.background = colour(m.userId);
        avatar.setAttribute("aria-hidden", "true");
        avatar.append(el("span", known && m.online ? "dot on" : known ? "dot" : "dot unknown"));
        const who = el("span", "who");
        const line = el("span", "name-line");
        const name = el("span", "name", shown);
        name.title = `${m.name} (user ${m.userId})`;
        line.append(name);
        if (you) line.append(" ", el("span", "you", "(you)"));
        if (m.role === "admin") line.append(" ", el("span", "role-badge", "admin"));
        who.append(line, el("span", "status", presence));
        li.replaceChildren(avatar, who);
        if (manage) {
          // The visible words start each button's name (WCAG 2.5.3, Label in Name).
          const tools = el("span", "member-actions");
          tools.append(
            button("Make admin", "small-button quiet", () => actions.handOver(room, m), `Make admin: ${shown}`),
            button("Remove", "small-button quiet danger-text", () => actions.remove(room, m), `Remove ${shown}`),
          );
          li.append(tools);
        }
        li.setAttribute("aria-label", `${shown}${you ? " (you)" : ""}, ${m.role}, ${m.status}, ${presence}`);
      },
    };
  });
  reconcile(list, items);
}

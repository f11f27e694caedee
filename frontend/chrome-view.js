// Everything around the conversation: the connection's state, who you are, notices,
// the lobby (an invitation, a room that went away), the open room's header and status,
// the composer's state, the counts in the title and on the phone's drawer buttons.

import { $, button, el, reconcile } from "./dom.js";
import { noticesNow, pendingRequests, unreadCount } from "./selectors.js";
import { plural } from "./text.js";
import { roomCount } from "./rooms-view.js";

const BASE_TITLE = document.title;
let actions = null;
let said = ""; // what the connection's live region last announced

export function setUp(callbacks) {
  actions = callbacks;
}

/** The pill: the connection as it is, with a countdown and Retry now when it's down. */
export function renderConnection(info, now, signedIn) {
  const pill = $("connection");
  pill.hidden = !signedIn;
  let text;
  let kind = info.status;
  if (info.status === "online") text = "Online";
  else if (info.status === "connecting") text = info.attempt ? "Reconnecting…" : "Connecting…";
  else if (!info.network) { text = "Offline — no network"; kind = "offline"; }
  else text = `Offline — retrying in ${Math.max(1, Math.ceil((info.retryAt - now) / 1000))} s`;
  if (pill.textContent !== text) pill.textContent = text;
  pill.className = `pill ${kind}`;
  $("retry-now").hidden = !signedIn || info.status !== "offline";
  // Announced once per change of state, not at every tick of the countdown.
  const words = info.status === "online" ? "Online" : info.status === "offline" ? "Offline" : "";
  if (words && words !== said) {
    said = words;
    $("connection-live").textContent = words === "Online" ? "Connected." : "Offline. Messages wait here and are sent when you're back.";
  }
  document.body.classList.toggle("offline", info.status !== "online");
}

export function renderWho(state, signedIn) {
  const who = $("whoami");
  const name = state.me ? state.me.name : "";
  who.hidden = !signedIn || !name;
  if (who.textContent !== name) who.textContent = name;
  who.title = name;
  $("rename").hidden = !signedIn;
}

export function renderNotices(state, now) {
  const items = noticesNow(state, now).map((n) => ({
    key: n.id,
    sig: JSON.stringify([n.text, n.kind]),
    create: () => el("div"),
    update(node) {
      node.className = n.kind === "info" ? "notice info" : "notice";
      node.setAttribute("role", n.kind === "info" ? "status" : "alert");
      node.replaceChildren(el("span", "notice-text", n.text),
        button("×", "icon-button", () => actions.dismiss(n.id), "Dismiss"));
    },
  }));
  reconcile($("notices"), items, () => actions.focusHome());
}

export function renderTitle(state) {
  let count = 0;
  for (const room of state.rooms.values()) {
    count += room.roomId === state.view.current && state.view.visible ? pendingRequests(room).length
      : unreadCount(state, room) + pendingRequests(room).length;
  }
  const title = count ? `(${count}) ${BASE_TITLE}` : BASE_TITLE;
  if (document.title !== title) document.title = title;
}

export function renderBadges(state) {
  // On a phone the lists are in closed drawers: their buttons carry the counts.
  let elsewhere = 0;
  for (const room of state.rooms.values()) {
    if (room.roomId !== state.view.current) elsewhere += roomCount(state, room, state.view.current);
  }
  const room = state.view.current && state.rooms.get(state.view.current);
  const here = room ? pendingRequests(room).length : 0;
  setBadge($("menu-badge"), elsewhere);
  setBadge($("members-badge"), here);
  $("members-badge-words").textContent = here ? `, ${here} waiting to join` : "";
  $("menu-toggle").setAttribute("aria-label", elsewhere ? `Show rooms (${elsewhere} new)` : "Show rooms");
  $("skip-requests").hidden = !here;
}

function setBadge(badge, count) {
  badge.hidden = !count;
  badge.textContent = count ? String(count) : "";
}

/** The open room's header, status box and composer; the lobby when none is open. */
export function renderRoom(state, room) {
  $("room-view").hidden = !room;
  $("lobby").hidden = Boolean(room);
  $("skip-composer").hidden = !(room && room.status === "approved");
  if (!room) return;
  $("room-title").textContent = room.name;
  $("room-id").textContent = room.roomId;
  $("leave").hidden = room.role === "admin" || room.status === "rejected";
  $("leave").textContent = room.status === "pending" ? "Withdraw request" : "Leave";
  const approved = room.status === "approved";
  $("copy-link").hidden = !approved;
  $("copy-id").hidden = !approved;
  $("members-toggle").hidden = !approved;
  renderStatus(room);
  $("share-hint").hidden = !(approved && room.role === "admin" && room.members.length === 1);
  $("composer").hidden = !approved;
  $("messages").parentElement.hidden = !approved;
  $("typing-line").hidden = !approved;
  const offline = state.connection !== "online";
  $("send").disabled = offline;
  const hint = offline ? "You're offline. What you write stays here; messages already sent go when you're back." : "";
  if ($("composer-hint").textContent !== hint) $("composer-hint").textContent = hint;
}

function renderStatus(room) {
  const box = $("room-status");
  box.hidden = room.status === "approved";
  if (box.hidden) return;
  const buttons = [];
  if (room.status === "pending") {
    $("room-status-text").textContent =
      "Waiting for the room's admin to approve your request. You'll be let in as soon as they do.";
  } else {
    $("room-status-text").textContent = "The admin declined your request to join this room.";
    buttons.push(
      button("Ask again", "primary", () => actions.askAgain(room)),
      button("Remove from my list", "", () => actions.forgetRoom(room)),
    );
  }
  if ($("room-status-actions").dataset.status !== room.status) {
    $("room-status-actions").replaceChildren(...buttons);
    $("room-status-actions").dataset.status = room.status;
  }
}

export function renderLobby(state, ui, signedIn) {
  const inv = ui.invite;
  $("invite").hidden = !(inv && !state.view.current && signedIn);
  if (inv) {
    if (inv.loading) {
      $("invite-title").textContent = "You're invited";
      $("invite-text").textContent = `Looking up room ${inv.roomId}…`;
    } else if (inv.missing) {
      $("invite-title").textContent = "That room doesn't exist";
      $("invite-text").textContent = `There's no room with the id ${inv.roomId}. Check the link with whoever shared it.`;
    } else {
      $("invite-title").textContent = `You're invited to ${inv.name}`;
      $("invite-text").textContent = `${inv.name} has ${plural(inv.memberCount, "member")}. Ask to join, and its admin will let you in.`;
    }
    $("invite-ask").hidden = Boolean(inv.loading || inv.missing);
  }
  const lost = state.lost[0];
  $("lost").hidden = !lost;
  if (lost) {
    $("lost-title").textContent = lost.why === "removed" ? `You were removed from ${lost.name}`
      : lost.why === "left" ? `You left ${lost.name}` : `${lost.name} is gone`;
    $("lost-text").textContent = lost.why === "vanished"
      ? "The server no longer has this room: it may have been reset. Nothing was sent from your unsent text; copy it before you dismiss this."
      : "Your unsent text wasn't sent; copy it before you dismiss this.";
    $("lost-draft").value = lost.text;
    $("lost-draft").hidden = !lost.text;
    $("lost-draft").previousElementSibling.hidden = !lost.text;
    $("lost-copy").hidden = !lost.text;
  }
  $("room-empty").hidden = !$("invite").hidden;
}

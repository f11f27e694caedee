// The page's controls: the forms (name, new room, join, the message box) and the
// buttons around the open room, wired to what app.js does with them. `app.state` and
// `app.connection` are the page's as they are at each event.

import { confirmDialog, renameDialog, updateCounter } from "./dialogs.js";
import { $ } from "./dom.js";
import {
  clearFormError, closePanels, grow, inviteLink, showFormError, submitOnEnter, togglePanel,
} from "./page.js";
import { KEYS, keep } from "./storage.js";
import { LIMITS, codePoints, nameProblem } from "./text.js";

const TYPING_SEND_EVERY_MS = 3000;

let typingSentAt = 0;

/** Listen to the page's controls; `app` holds what they act on (see app.js). */
export function wireControls(app) {
  const { copy, dispatch, drafts, focusHome, render, request, saveDraft, sendText, start, ui } = app;
  $("name-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = $("name-input").value.trim();
    const problem = nameProblem(name);
    if (problem) {
      $("name-error").textContent = problem;
      $("name-error").hidden = false;
      return;
    }
    $("name-error").hidden = true;
    localStorage.setItem(KEYS.name, name);
    start();
    render();
    focusHome();
  });
  $("name-input").addEventListener("input", () => updateCounter($("name-input"), $("name-count")));
  $("rename").addEventListener("click", () => {
    const currentName = (app.state.me && app.state.me.name) || localStorage.getItem(KEYS.name) || "";
    renameDialog(currentName, (name) => new Promise((resolve) => {
      if (!app.connection || !app.connection.request("rename", { name }, { rename: resolve }, "action")) {
        resolve("You're offline: change your name when the connection is back.");
      }
    }));
  });
  $("create-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = $("create-input").value.trim();
    if (!name) showFormError(event.target, "Give the room a name.");
    else if (codePoints(name) > LIMITS.room) showFormError(event.target, `Room names can be at most ${LIMITS.room} characters.`);
    else request("createRoom", { name }, { form: event.target });
  });
  $("create-input").addEventListener("input", () => updateCounter($("create-input"), $("create-count")));
  $("join-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const roomId = $("join-input").value.trim().toLowerCase();
    if (roomId) request("joinRoom", { roomId, op: "request" }, { form: event.target });
  });
  $("join-input").addEventListener("input", () => {
    const roomId = $("join-input").value.trim().toLowerCase();
    $("join-preview").textContent = "";
    if (/^[a-z0-9]{10}$/.test(roomId) && app.state.connection === "online") {
      app.connection.request("getRoom", { roomId }, { preview: roomId }, "action");
    }
  });
  $("invite-ask").addEventListener("click", () => {
    if (ui.invite) request("joinRoom", { roomId: ui.invite.roomId, op: "request" }, { form: $("join-form") });
  });
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("message-input");
    const text = input.value.replace(/\r\n/g, "\n").trim();
    if (!text || !app.state.view.current) return;
    if (codePoints(text) > LIMITS.text) {
      showFormError(event.target, `Messages can be at most ${LIMITS.text} characters.`);
      return;
    }
    if (app.state.connection !== "online") return; // the hint under the box says why
    clearFormError(event.target);
    // The box empties at once, so a second press finds nothing to send; the message
    // itself stays on screen (sending, sent, or failed with Retry) until the server has it.
    input.value = "";
    grow(input);
    updateCounter(input, $("message-count"));
    delete drafts[app.state.view.current];
    keep(KEYS.drafts, drafts);
    typingSentAt = 0;
    sendText(app.state.view.current, text);
  });
  submitOnEnter($("message-input"), $("composer"));
  $("message-input").addEventListener("input", () => {
    const input = $("message-input");
    grow(input);
    updateCounter(input, $("message-count"));
    saveDraft();
    const now = Date.now();
    if (app.state.view.current && app.connection && now - typingSentAt > TYPING_SEND_EVERY_MS && input.value.trim()) {
      if (app.connection.hint("typing", { roomId: app.state.view.current })) typingSentAt = now;
    }
  });
  $("copy-id").addEventListener("click", (event) => copy(app.state.view.current, event.currentTarget));
  $("copy-link").addEventListener("click", (event) => copy(inviteLink(app.state.view.current), event.currentTarget));
  $("leave").addEventListener("click", async () => {
    const room = app.state.view.current && app.state.rooms.get(app.state.view.current);
    if (!room) return;
    const withdraw = room.status === "pending";
    const ok = await confirmDialog(
      withdraw ? `Withdraw your request to join ${room.name}?` : `Leave ${room.name}?`,
      withdraw ? "You can ask again later." : "You'll need the admin's approval to come back.",
      withdraw ? "Withdraw" : "Leave",
    );
    if (ok) request("leaveRoom", { roomId: room.roomId });
  });
  $("retry-now").addEventListener("click", () => { if (app.connection) app.connection.retryNow(); });
  $("notify").addEventListener("click", async () => {
    await Notification.requestPermission();
    render();
  });
  $("lost-copy").addEventListener("click", (event) => copy($("lost-draft").value, event.currentTarget));
  $("lost-dismiss").addEventListener("click", () => {
    dispatch({ action: "lostSeen" });
    queueMicrotask(focusHome);
  });
  $("menu-toggle").addEventListener("click", () => togglePanel($("sidebar"), $("menu-toggle"), () => $("create-input")));
  $("lobby-rooms").addEventListener("click", () => togglePanel($("sidebar"), $("menu-toggle"), () => $("create-input")));
  $("members-toggle").addEventListener("click", () => togglePanel($("members"), $("members-toggle"), () => $("members-title")));
  for (const skip of document.querySelectorAll(".skip")) {
    skip.addEventListener("click", (event) => {
      event.preventDefault();
      const target = skip.id === "skip-requests" ? document.querySelector("#requests .approve") : $("message-input");
      if (target) target.focus();
    });
  }
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || document.querySelector("dialog[open]")) return;
    const wasOpen = $("sidebar").classList.contains("open") ? $("menu-toggle")
      : $("members").classList.contains("open") ? $("members-toggle") : null;
    closePanels();
    if (wasOpen) wasOpen.focus();
  });
}

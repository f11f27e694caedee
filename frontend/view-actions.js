// What the views ask of the page: the callbacks each view module is set up with.
// `page` is app.js's: its state (a getter: the state is replaced on every event),
// the ui flags, the outbox, and what it does (dispatch, request, select, ...).

import * as chrome from "./chrome-view.js";
import * as talk from "./conversation-view.js";
import { confirmDialog, updateCounter } from "./dialogs.js";
import { $ } from "./dom.js";
import * as membersView from "./members-view.js";
import { grow, showFormError } from "./page.js";
import * as roomsView from "./rooms-view.js";

export function wireViews(page) {
  const { ui, outbox, dispatch, focusHome, render, request, select } = page;
  talk.setUp({
    viewed: (atBottom) => {
      const visible = document.visibilityState !== "hidden";
      if (page.state.view.atBottom !== atBottom || page.state.view.visible !== visible) dispatch({ action: "viewed", atBottom, visible });
    },
    loadOlder: (room) => request("getHistory", { roomId: room.roomId, before: room.older, limit: page.historyPage }),
    retry: (messageId) => { outbox.forget(messageId); dispatch({ action: "retry", messageId }); },
    discard: (messageId, text) => {
      dispatch({ action: "discard", messageId });
      const input = $("message-input");
      if (!input.value.trim()) { input.value = text; grow(input); updateCounter(input, $("message-count")); }
      input.focus();
    },
    startEdit: (messageId) => { ui.editing = messageId; render(); },
    cancelEdit: () => { ui.editing = null; render(); $("message-input").focus(); },
    saveEdit: (form, room, m, text) => request("editMessage", { roomId: room.roomId, messageId: m.messageId, text }, { form }),
    formError: showFormError,
    confirmDelete: async (room, m) => {
      if (await confirmDialog("Delete this message?", "Everyone in the room will see that a message was deleted.", "Delete")) {
        request("deleteMessage", { roomId: room.roomId, messageId: m.messageId });
      }
    },
  });

  membersView.setUp({
    decide: (room, m, op) => request("joinRoom", { roomId: room.roomId, op, userId: m.userId }),
    handOver: async (room, m) => {
      if (await confirmDialog(`Make ${m.name} the admin?`, `${m.name} will approve requests and manage ${room.name}. You'll be a member, free to leave.`, "Make admin")) {
        request("transferAdmin", { roomId: room.roomId, userId: m.userId });
      }
    },
    remove: async (room, m) => {
      if (await confirmDialog(`Remove ${m.name}?`, `${m.name} will no longer see or post in ${room.name}. They can ask to join again.`, "Remove")) {
        request("removeMember", { roomId: room.roomId, userId: m.userId });
      }
    },
  });

  roomsView.setUp({ choose: (roomId) => select(roomId, { from: "list" }) });

  chrome.setUp({
    dismiss: (id) => dispatch({ action: "dismissed", id }),
    focusHome,
    askAgain: (room) => request("joinRoom", { roomId: room.roomId, op: "request" }),
    forgetRoom: (room) => request("leaveRoom", { roomId: room.roomId }),
  });
}

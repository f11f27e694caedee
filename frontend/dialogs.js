// The page's own modal dialogs: a confirmation, and changing one's name.

import { $ } from "./dom.js";
import { LIMITS, codePoints, nameProblem } from "./text.js";

/** Asks to confirm; resolves true when confirmed. Focus goes back where it was. */
export function confirmDialog(title, text, action) {
  const dialog = $("confirm");
  const opener = document.activeElement;
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = action;
  return new Promise((resolve) => {
    const finish = (ok) => {
      dialog.removeEventListener("close", onClose);
      $("confirm-ok").onclick = null;
      $("confirm-cancel").onclick = null;
      if (dialog.open) dialog.close();
      if (opener && opener.isConnected && !opener.closest("[hidden]")) opener.focus();
      resolve(ok);
    };
    const onClose = () => finish(false);
    dialog.addEventListener("close", onClose);
    $("confirm-ok").onclick = () => finish(true);
    $("confirm-cancel").onclick = () => finish(false);
    dialog.showModal();
    $("confirm-cancel").focus();
  });
}

/**
 * "Change name", in place: the current name to edit, Cancel, and Save, which calls
 * `save(name)` → a promise of an error sentence or null when done.
 */
export function renameDialog(current, save) {
  const dialog = $("rename-dialog");
  const input = $("rename-input");
  const error = $("rename-error");
  const opener = document.activeElement;
  input.value = current;
  error.hidden = true;
  updateCounter(input, $("rename-count"));
  const close = () => {
    if (dialog.open) dialog.close();
    if (opener && opener.isConnected) opener.focus();
  };
  $("rename-cancel").onclick = close;
  $("rename-form").onsubmit = async (event) => {
    event.preventDefault();
    const name = input.value.trim();
    const problem = nameProblem(name);
    if (problem || name === current) {
      if (!problem) { close(); return; }
      error.textContent = problem;
      error.hidden = false;
      return;
    }
    $("rename-save").disabled = true;
    const failure = await save(name);
    $("rename-save").disabled = false;
    if (failure) {
      error.textContent = failure;
      error.hidden = false;
    } else close();
  };
  input.oninput = () => updateCounter(input, $("rename-count"));
  dialog.showModal();
  input.focus();
  input.select();
}

export function updateCounter(input, counter) {
  const limit = Number(counter.dataset.limit) || LIMITS.name;
  const used = codePoints(input.value.trim());
  counter.classList.toggle("over", used > limit);
  counter.textContent = !used ? "" : used > limit ? `${used} / ${limit} — ${used - limit} too many` : `${used} / ${limit}`;
}

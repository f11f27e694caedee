// Small things the page's controls share: a form's error line, the message box's
// height, the side panels on a narrow screen, an invite link, Enter to submit.

import { $ } from "./dom.js";

export function showFormError(form, text, scope = "") {
  let line = form.querySelector(".field-error");
  if (!line) {
    line = document.createElement("p");
    line.className = "field-error";
    line.setAttribute("role", "alert");
    const foot = form.querySelector(".field-foot");
    if (foot) foot.prepend(line); else form.append(line);
  }
  line.textContent = text;
  line.dataset.scope = scope;
  line.hidden = false;
}

export function clearFormError(form) {
  const line = form && form.querySelector(".field-error");
  if (line) line.hidden = true;
}

export function clearConnectionErrors() {
  for (const line of document.querySelectorAll(".field-error[data-scope=connection]")) line.hidden = true;
}

// The message box grows with its text up to its maximum height, then scrolls.
export function grow(box) {
  box.style.height = "";
  if (!box.value || !box.offsetParent) return; // empty or not shown: its natural one line
  box.style.height = "auto";
  const max = parseFloat(getComputedStyle(box).maxHeight) || Infinity;
  const border = box.offsetHeight - box.clientHeight;
  box.style.height = `${Math.min(box.scrollHeight + border, max)}px`;
}

export function closePanels() {
  $("sidebar").classList.remove("open");
  $("members").classList.remove("open");
  $("menu-toggle").setAttribute("aria-expanded", "false");
  $("members-toggle").setAttribute("aria-expanded", "false");
}

export function togglePanel(panel, toggle, focusTarget) {
  const open = panel.classList.toggle("open");
  toggle.setAttribute("aria-expanded", String(open));
  if (open && focusTarget) requestAnimationFrame(() => focusTarget().focus());
}

export function inviteLink(roomId) {
  const url = new URL(location.href);
  url.search = "";
  url.hash = "";
  url.searchParams.set("room", roomId);
  return url.toString();
}

export function submitOnEnter(input, form) {
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
}


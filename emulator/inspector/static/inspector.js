// The inspector page: follows the emulator's stream and renders what it holds.

import { apply, choices, createState, reset, visible } from "./state.js";
import {
  apiPanel, callsTable, connectionDetail, connectionsTable, framesTable,
  invocationDetail, invocationsTable, options,
} from "./view.js";

const $ = (id) => document.getElementById(id);

let state = createState();
let socket = null;
let nextId = 1;
const waiting = new Map(); // request id -> resolve
let shownDetail = null; // the invocation whose details are open
let dirty = false;

function filters() {
  return {
    connection: $("filter-connection").value,
    route: $("filter-route").value,
    function: $("filter-function").value,
    outcome: $("filter-outcome").value,
  };
}

function say(text) {
  $("status").textContent = text;
}

function ask(action, fields) {
  return new Promise((resolve) => {
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      resolve({ ok: false, error: "not connected to the emulator" });
      return;
    }
    const id = nextId;
    nextId += 1;
    waiting.set(id, resolve);
    socket.send(JSON.stringify({ id, action, ...fields }));
  });
}

const handlers = {
  select(id) {
    $("filter-connection").value = $("filter-connection").value === id ? "" : id;
    render();
  },
  async disconnect(id) {
    const answer = await ask("disconnect", { connectionId: id });
    say(answer.ok ? `Disconnected ${id}.` : `Could not disconnect: ${answer.error}`);
  },
  async details(seq) {
    const answer = await ask("detail", { invocation: seq });
    if (!answer.ok) {
      say(`No details: ${answer.error}`);
      return;
    }
    shownDetail = answer.body;
    invocationDetail($("invocation-detail"), shownDetail, state.calls, handlers);
    $("invocation-detail").querySelector("h3").focus?.();
  },
  async replay(seq) {
    const out = $("replay-result");
    if (out) out.textContent = "Replaying…";
    const answer = await ask("replay", { invocation: seq });
    const text = !answer.ok
      ? `Could not replay: ${answer.error}`
      : answer.body.outcome === "success"
        ? `Replayed: it returned ${JSON.stringify(answer.body.result)}`
        : `Replayed: ${answer.body.outcome}: ${answer.body.error}`;
    if ($("replay-result")) $("replay-result").textContent = text;
    say(text);
  },
  close() {
    shownDetail = null;
    invocationDetail($("invocation-detail"), null, [], handlers);
  },
};

function render() {
  dirty = false;
  const f = filters();
  const offered = choices(state);
  options($("filter-connection"), offered.connections);
  options($("filter-route"), offered.routes);
  options($("filter-function"), offered.functions);
  const shown = visible(state, f);
  const count = (id, n, total, word) => {
    $(id).textContent = n < total ? `(newest ${n} of ${total} ${word})` : `(${total} ${word})`;
  };
  count("connections-count", shown.connections.length, shown.counts.connections, `kept, ${shown.counts.open} open`);
  count("frames-count", shown.frames.length, shown.counts.frames, "kept");
  count("invocations-count", shown.invocations.length, shown.counts.invocations, "kept");
  count("calls-count", shown.calls.length, shown.counts.calls, "kept");
  connectionsTable($("connections").tBodies[0], shown.connections, f.connection, handlers);
  connectionDetail($("connection-detail"), f.connection ? state.connections.get(f.connection) : null);
  framesTable($("frames").tBodies[0], shown.frames);
  invocationsTable($("invocations").tBodies[0], shown.invocations, handlers);
  callsTable($("calls").tBodies[0], shown.calls, state.invocations);
  const selected = f.connection ? state.connections.get(f.connection) : null;
  const form = $("send");
  form.hidden = !(selected && selected.closedAt === null);
  if (selected) $("send-label").textContent = `Send as connection ${selected.id}`;
  if (shownDetail) {
    const now = state.invocations.get(shownDetail.seq);
    if (now && now.outcome !== shownDetail.outcome) handlers.details(shownDetail.seq);
  }
}

function later() {
  if (!dirty) {
    dirty = true;
    requestAnimationFrame(render);
  }
}

function connect() {
  socket = new WebSocket(`ws://${location.host}/stream`);
  socket.addEventListener("open", () => say("Live: following the emulator."));
  socket.addEventListener("message", (message) => {
    const data = JSON.parse(message.data);
    if (data.type === "hello") {
      state = reset(state, data);
      const api = state.api;
      $("api-line").textContent = api
        ? `API ${api.apiId}, stage ${api.stage}: ${api.url}`
        : "The API is not served yet.";
      apiPanel($("api-body"), api);
      later();
    } else if (data.type === "entries") {
      for (const entry of data.entries) apply(state, entry);
      later();
    } else if (data.type === "answer") {
      const resolve = waiting.get(data.id);
      waiting.delete(data.id);
      if (resolve) resolve(data);
    }
  });
  socket.addEventListener("close", () => {
    for (const resolve of waiting.values()) resolve({ ok: false, error: "the emulator went away" });
    waiting.clear();
    say("Disconnected from the emulator; trying again…");
    setTimeout(connect, 1000);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  for (const id of ["filter-connection", "filter-route", "filter-function", "filter-outcome"]) {
    $(id).addEventListener("change", render);
  }
  $("filters").addEventListener("reset", () => setTimeout(render, 0));
  $("send").addEventListener("submit", async (event) => {
    event.preventDefault();
    const id = $("filter-connection").value;
    const data = $("send-data").value;
    const answer = await ask("send", { connectionId: id, data });
    say(answer.ok ? `Sent as ${id}.` : `Could not send: ${answer.error}`);
    if (answer.ok) $("send-data").value = "";
  });
  connect();
});

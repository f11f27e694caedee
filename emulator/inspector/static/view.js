// Rendering: every value the API produced is written as text (textContent), never as HTML.

export function el(tag, options = {}, children = []) {
  const node = document.createElement(tag);
  if (options.text !== undefined && options.text !== null) node.textContent = String(options.text);
  if (options.className) node.className = options.className;
  for (const [name, value] of Object.entries(options.attrs || {})) node.setAttribute(name, value);
  if (options.onClick) node.addEventListener("click", options.onClick);
  for (const child of children) node.append(child);
  return node;
}

export function time(ms) {
  if (ms === null || ms === undefined) return "";
  const d = new Date(ms);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export function bytes(n) {
  if (n === null || n === undefined) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function shortId(id) {
  return id ? String(id) : "—";
}

function cell(text, className) {
  return el("td", { text, className });
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

export function connectionsTable(tbody, connections, selected, handlers) {
  fill(tbody, connections.map((c) => {
    const open = c.closedAt === null;
    const state = open ? "open" : `closed ${c.closeCode}${c.closeReason ? ` (${c.closeReason})` : ""}`;
    const show = el("button", {
      text: selected === c.id ? "Shown" : "Show",
      className: "link-button",
      attrs: { type: "button", "aria-label": `Show connection ${c.id}`, "aria-pressed": String(selected === c.id) },
      onClick: () => handlers.select(c.id),
    });
    const actions = el("td", {}, [show]);
    if (open) {
      actions.append(el("button", {
        text: "Disconnect",
        className: "small-button danger",
        attrs: { type: "button", "aria-label": `Disconnect ${c.id}` },
        onClick: () => handlers.disconnect(c.id),
      }));
    }
    const row = el("tr", { className: selected === c.id ? "selected" : "" }, [
      el("td", { className: "mono" }, [el("span", { text: c.id })]),
      cell(`${c.sourceIp}${c.userAgent ? ` · ${c.userAgent}` : ""}`, "clip"),
      cell(time(c.connectedAt)),
      cell(time(c.lastActiveAt)),
      cell(`${c.framesIn} · ${bytes(c.bytesIn)}`),
      cell(`${c.framesOut} · ${bytes(c.bytesOut)}`),
      cell(`${c.unitsIn} in · ${c.unitsOut} out`),
      cell(state, open ? "ok" : "muted"),
      actions,
    ]);
    return row;
  }));
}

export function connectionDetail(container, connection) {
  if (!connection) {
    container.hidden = true;
    container.replaceChildren();
    return;
  }
  const pairs = (list) => el("dl", { className: "pairs" }, list.flatMap(([k, v]) => [
    el("dt", { text: k }), el("dd", { text: v }),
  ]));
  container.hidden = false;
  container.replaceChildren(
    el("h3", { text: `Connection ${connection.id}` }),
    el("p", { className: "small muted", text: "Headers and query string of its upgrade request; the authorizer's context, if one ran." }),
    el("h4", { text: "Headers" }),
    pairs(connection.headers),
    el("h4", { text: "Query string" }),
    connection.query.length ? pairs(connection.query) : el("p", { className: "muted small", text: "none" }),
    el("h4", { text: "Authorizer context" }),
    block(connection.authorizer ? JSON.stringify(connection.authorizer, null, 2) : "none", "Authorizer context"),
  );
}

const PREVIEW = 300; // characters of a frame shown in the table

function preview(frame) {
  const cut = frame.truncated || frame.data.length > PREVIEW;
  return cut ? `${frame.data.slice(0, PREVIEW)}…` : frame.data;
}

// A block that may scroll: focusable, so a keyboard can scroll it too.
function block(text, label) {
  return el("pre", { text, attrs: { tabindex: "0", "aria-label": label } });
}

export function framesTable(tbody, frames) {
  fill(tbody, frames.map((f) => {
    const inbound = f.direction === "in";
    const what = inbound ? (f.route || "no route") : f.frameKind;
    return el("tr", { className: `frame-${f.direction}` }, [
      cell(time(f.at)),
      cell(f.connectionId, "mono"),
      cell(inbound ? "→ in" : "← out"),
      cell(what, f.frameKind === "error" ? "bad" : ""),
      cell(bytes(f.size)),
      cell(String(f.units)),
      el("td", { className: "data" }, [el("code", { text: preview(f) })]),
    ]);
  }));
}

export function outcomeClass(outcome) {
  if (outcome === "success") return "ok";
  if (outcome === "running") return "warn";
  return "bad";
}

export function invocationsTable(tbody, invocations, handlers) {
  fill(tbody, invocations.map((i) => el("tr", {}, [
    cell(time(i.startedAt)),
    cell(i.function, "clip"),
    cell(i.route || ""),
    cell(i.connectionId || "", "mono"),
    cell(i.durationMs !== null ? `${i.durationMs.toFixed(1)} ms` : ""),
    cell(i.billedMs !== null ? `${i.billedMs} ms` : ""),
    cell(i.maxMemoryMb !== null ? `${i.maxMemoryMb} / ${i.memoryMb} MB` : ""),
    cell(i.replayOf ? `${i.outcome} (replay of #${i.replayOf})` : i.outcome, outcomeClass(i.outcome)),
    cell(String(i.calls.length)),
    el("td", {}, [el("button", {
      text: "Details",
      className: "link-button",
      attrs: { type: "button", "aria-label": `Details of invocation ${i.seq}` },
      onClick: () => handlers.details(i.seq),
    })]),
  ])));
}

export function invocationDetail(container, detail, calls, handlers) {
  if (!detail) {
    container.hidden = true;
    container.replaceChildren();
    return;
  }
  const replay = el("button", {
    text: "Replay its event",
    className: "primary",
    attrs: { type: "button" },
    onClick: () => handlers.replay(detail.seq),
  });
  replay.disabled = !detail.replayable;
  const close = el("button", {
    text: "Close",
    attrs: { type: "button" },
    onClick: () => handlers.close(),
  });
  const made = calls.filter((c) => c.invocation === detail.seq);
  container.hidden = false;
  container.replaceChildren(
    el("div", { className: "row spread" }, [
      el("h3", { text: `Invocation #${detail.seq}: ${detail.function}` }),
      el("div", { className: "row" }, [replay, close]),
    ]),
    el("p", { className: "small muted", text:
      `Lambda request ${detail.requestId}${detail.triggerId ? `, API Gateway request ${detail.triggerId}` : ""}; ${detail.outcome}${detail.error ? `: ${detail.error}` : ""}` }),
    el("p", { className: "small", attrs: { id: "replay-result", role: "status" } }),
    el("h4", { text: "Event" }),
    block(detail.event !== null ? JSON.stringify(detail.event, null, 2) : "(too large to keep)", "Event"),
    el("h4", { text: "Result" }),
    block(detail.resultKept ? JSON.stringify(detail.result, null, 2) : "(too large to keep)", "Result"),
    el("h4", { text: `Log lines${detail.logsDropped ? ` (${detail.logsDropped} more not kept)` : ""}` }),
    block(detail.logs.length ? detail.logs.join("\n") : "(none)", "Log lines"),
    el("h4", { text: `@connections calls it made (${made.length})` }),
    el("ul", {}, made.map((c) => el("li", { text: `${c.method} ${c.connectionId} → ${c.status} (${bytes(c.size)})` }))),
  );
}

export function callsTable(tbody, calls, invocations) {
  fill(tbody, calls.map((c) => {
    const by = c.invocation !== null ? invocations.get(c.invocation) : undefined;
    const who = by ? `#${by.seq} ${by.function}${by.route ? ` (${by.route})` : ""}` : (c.function || "outside a function");
    return el("tr", {}, [
      cell(time(c.at)),
      cell(c.method),
      cell(c.connectionId, "mono"),
      cell(String(c.status), c.status >= 400 ? "bad" : "ok"),
      cell(bytes(c.size)),
      cell(who, "clip"),
    ]);
  }));
}

export function apiPanel(container, api) {
  if (!api) {
    container.replaceChildren(el("p", { className: "muted", text: "Not served yet." }));
    return;
  }
  const routes = el("table", {}, [
    el("caption", { text: "Routes" }),
    el("thead", {}, [el("tr", {}, ["Route", "Function", "Two-way", "Throttle"].map((t) => el("th", { text: t, attrs: { scope: "col" } })))]),
    el("tbody", {}, api.routes.map((r) => el("tr", {}, [
      cell(r.key, "mono"),
      cell(r.function),
      cell(r.twoWay ? "yes" : "no"),
      cell(r.throttle ? `burst ${r.throttle.ThrottlingBurstLimit}, ${r.throttle.ThrottlingRateLimit}/s` : "none"),
    ]))),
  ]);
  const functions = el("table", {}, [
    el("caption", { text: "Functions" }),
    el("thead", {}, [el("tr", {}, ["Function", "Handler", "Timeout", "Memory"].map((t) => el("th", { text: t, attrs: { scope: "col" } })))]),
    el("tbody", {}, api.functions.map((f) => el("tr", {}, [
      cell(f.name), cell(f.handler, "mono"), cell(`${f.timeout} s`), cell(`${f.memory} MB`),
    ]))),
  ]);
  const auth = api.authorizer
    ? `${api.authorizer.function}, identity from ${api.authorizer.identitySources.join(", ")}`
    : "none";
  container.replaceChildren(
    el("dl", { className: "pairs" }, [
      el("dt", { text: "API id" }), el("dd", { text: api.apiId }),
      el("dt", { text: "Stage" }), el("dd", { text: api.stage }),
      el("dt", { text: "Clients connect to" }), el("dd", { text: api.url }),
      el("dt", { text: "@connections" }), el("dd", { text: api.managementEndpoint }),
      el("dt", { text: "Route selection" }), el("dd", { text: api.routeSelectionExpression }),
      el("dt", { text: "Authorizer" }), el("dd", { text: auth }),
      el("dt", { text: "Limits" }), el("dd", { text:
        `message ${bytes(api.limits.messageBytes)}, frame ${bytes(api.limits.frameBytes)}, idle ${api.limits.idleTimeout} s, lifetime ${api.limits.lifetime} s` }),
    ]),
    routes,
    functions,
  );
}

export function options(select, values, label) {
  const current = select.value;
  const wanted = ["", ...values];
  const have = [...select.options].map((o) => o.value);
  if (have.length === wanted.length && have.every((v, i) => v === wanted[i])) return;
  select.replaceChildren(
    el("option", { text: "All", attrs: { value: "" } }),
    ...values.map((v) => el("option", { text: label ? label(v) : v, attrs: { value: v } })),
  );
  select.value = values.includes(current) ? current : "";
}

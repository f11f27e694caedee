// The page's copy of the record: pure functions over plain data, no DOM.
// Entries arrive from the stream (see server.py); each kind is kept within the
// server's own limits, so the page's memory stays bounded however long it stays open.

export const SHOWN = 200; // rows per table: the newest that match the filters

export function createState() {
  return {
    api: null,
    limits: { frames: 5000, invocations: 2000, calls: 5000, closedConnections: 1000 },
    connections: new Map(), // id -> entry, in the order they connected
    closed: [], // ids of closed connections, in the order they closed
    frames: [],
    invocations: new Map(), // seq -> summary
    calls: [],
  };
}

// A hello: the whole record, replacing what the page had.
export function reset(state, hello) {
  const fresh = createState();
  fresh.api = hello.api || null;
  fresh.limits = { ...fresh.limits, ...(hello.limits || {}) };
  for (const entry of hello.entries || []) apply(fresh, entry);
  return fresh;
}

function trim(list, limit) {
  if (list.length > limit) list.splice(0, list.length - limit);
}

// One entry, new or changed.
export function apply(state, entry) {
  switch (entry.kind) {
    case "connection": {
      const before = state.connections.get(entry.id);
      state.connections.set(entry.id, entry);
      if (entry.closedAt !== null && (before === undefined || before.closedAt === null)) {
        state.closed.push(entry.id);
        while (state.closed.length > state.limits.closedConnections) {
          state.connections.delete(state.closed.shift());
        }
      }
      break;
    }
    case "frame":
      state.frames.push(entry);
      trim(state.frames, state.limits.frames);
      break;
    case "invocation":
      state.invocations.set(entry.seq, entry);
      while (state.invocations.size > state.limits.invocations) {
        state.invocations.delete(state.invocations.keys().next().value);
      }
      break;
    case "call":
      state.calls.push(entry);
      trim(state.calls, state.limits.calls);
      break;
    default:
      break;
  }
  return state;
}

const FAILED = new Set(["error", "timeout", "crash", "too large"]);

export function outcomeMatches(outcome, wanted) {
  if (!wanted) return true;
  if (wanted === "failed") return FAILED.has(outcome);
  return outcome === wanted;
}

function newest(list, keep) {
  const out = [];
  for (let i = list.length - 1; i >= 0 && out.length < SHOWN; i -= 1) {
    if (keep(list[i])) out.push(list[i]);
  }
  return out;
}

// What each table shows for these filters: the newest first, at most SHOWN rows.
export function visible(state, filters) {
  const { connection, route, function: fn, outcome } = filters;
  const invocations = [...state.invocations.values()];
  const bySeq = state.invocations;
  return {
    connections: newest([...state.connections.values()], () => true),
    frames: newest(state.frames, (f) =>
      (!connection || f.connectionId === connection) &&
      (!route || (f.direction === "in" && f.route === route))),
    invocations: newest(invocations, (i) =>
      (!connection || i.connectionId === connection) &&
      (!route || i.route === route) &&
      (!fn || i.function === fn) &&
      outcomeMatches(i.outcome, outcome)),
    calls: newest(state.calls, (c) => {
      const caller = c.invocation !== null ? bySeq.get(c.invocation) : undefined;
      return (!connection || c.connectionId === connection) &&
        (!fn || c.function === fn) &&
        (!route || (caller !== undefined && caller.route === route));
    }),
    counts: {
      connections: state.connections.size,
      open: [...state.connections.values()].filter((c) => c.closedAt === null).length,
      frames: state.frames.length,
      invocations: state.invocations.size,
      calls: state.calls.length,
    },
  };
}

// The choices each filter offers: what the API declares and what was seen.
export function choices(state) {
  const routes = new Set((state.api?.routes || []).map((r) => r.key));
  const functions = new Set((state.api?.functions || []).map((f) => f.name));
  for (const i of state.invocations.values()) {
    if (i.route) routes.add(i.route);
    functions.add(i.function);
  }
  return {
    connections: [...state.connections.keys()],
    routes: [...routes].sort(),
    functions: [...functions].sort(),
  };
}

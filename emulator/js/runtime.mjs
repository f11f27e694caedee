// ws-emulator's Node.js runtime: a Lambda Runtime API client, written for the emulator.
//
//   node runtime.mjs [--resolve HOST=ADDRESS:PORT ...]
//
// Started by the emulator's runner in the function's code folder (LAMBDA_TASK_ROOT) with
// the function's environment, _HANDLER and AWS_LAMBDA_RUNTIME_API. It loads the handler
// (CommonJS or an ES module), then asks the Runtime API for invocations one at a time
// and posts each result or error back, as Lambda's Node.js runtimes do. Handlers may be
// async (or return a promise) or take a callback. --resolve points an API's AWS hostname
// at the local @connections server, in this process only.

import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import dns from "node:dns";
import path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { format } from "node:util";

const API = process.env.AWS_LAMBDA_RUNTIME_API;
const RUNTIME = "/2018-06-01/runtime";
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
let currentRequestId = "";

// --- talking to the Runtime API ------------------------------------------------------

function call(method, route, body, headers = {}) {
  const [host, port] = API.split(":");
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host, port: Number(port), method, path: `${RUNTIME}${route}`, agent, headers },
      (response) => {
        const chunks = [];
        response.on("data", (chunk) => chunks.push(chunk));
        response.on("end", () =>
          resolve({ status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks) }),
        );
        response.on("error", reject);
      },
    );
    request.on("error", reject);
    if (body !== undefined) request.write(body);
    request.end();
  });
}

function post(route, payload, headers = {}) {
  const body = Buffer.from(payload);
  return call("POST", route, body, {
    "Content-Type": "application/json",
    "Content-Length": body.length,
    ...headers,
  });
}

function errorBody(error) {
  if (error instanceof Error) {
    return {
      errorType: error.name || "Error",
      errorMessage: error.message,
      trace: (error.stack || "").split("\n"),
    };
  }
  return { errorType: typeof error, errorMessage: String(error), trace: [] };
}

function postError(route, error, type) {
  const body = errorBody(error);
  if (type) body.errorType = type;
  return post(route, JSON.stringify(body), { "Lambda-Runtime-Function-Error-Type": body.errorType });
}

// --- the process as Lambda sets it up ---------------------------------------------------

function resolveLocally(names) {
  // The API's AWS hostname reaches the local @connections server from this process only,
  // whichever client connects (the SDK's https agent, fetch, tls.connect): the socket goes
  // to the local address, while TLS still checks the certificate against the AWS name.
  if (names.size === 0) return;
  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (...args) {
    let options = args[0];
    let rest = args.slice(1);
    if (Array.isArray(options)) {
      rest = options.slice(1);
      options = options[0];
    }
    const target =
      options && typeof options === "object" && typeof options.host === "string"
        ? names.get(options.host.toLowerCase())
        : undefined;
    if (target === undefined) return connect.apply(this, args);
    return connect.call(this, { ...options, host: target.address, port: target.port }, ...rest);
  };
  const lookup = dns.lookup;
  dns.lookup = function (hostname, options, callback) {
    const target = typeof hostname === "string" ? names.get(hostname.toLowerCase()) : undefined;
    if (target === undefined) return lookup.call(this, hostname, options, callback);
    return lookup.call(this, target.address, options, callback);
  };
}

function logLikeLambda() {
  // console.* as Lambda's Node.js runtimes write it: time, request id, level, message.
  const write = (level) =>
    (...args) => {
      const message = format(...args).replace(/\n/g, "\r");
      process.stdout.write(`${new Date().toISOString()}\t${currentRequestId || "undefined"}\t${level}\t${message}\n`);
    };
  console.log = write("INFO");
  console.info = write("INFO");
  console.warn = write("WARN");
  console.error = write("ERROR");
  console.debug = write("DEBUG");
  console.trace = write("TRACE");
}

function options(argv) {
  const names = new Map();
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--resolve" && argv[i + 1]) {
      const [host, target] = argv[++i].split("=");
      const colon = target.lastIndexOf(":");
      names.set(host.toLowerCase(), { address: target.slice(0, colon), port: Number(target.slice(colon + 1)) });
    }
  }
  return { names };
}

// --- loading the handler ---------------------------------------------------------------

class RuntimeError extends Error {
  constructor(type, message) {
    super(message);
    this.name = type;
  }
}

function packageType(directory) {
  for (let dir = directory; ; dir = path.dirname(dir)) {
    const file = path.join(dir, "package.json");
    if (fs.existsSync(file)) {
      try {
        return JSON.parse(fs.readFileSync(file, "utf8")).type || "commonjs";
      } catch {
        return "commonjs";
      }
    }
    if (path.dirname(dir) === dir) return "commonjs";
  }
}

async function loadModule(taskRoot, moduleName) {
  const base = path.resolve(taskRoot, moduleName);
  for (const extension of [".js", ".mjs", ".cjs"]) {
    const file = base + extension;
    if (!fs.existsSync(file)) continue;
    const esm = extension === ".mjs" || (extension === ".js" && packageType(path.dirname(file)) === "module");
    if (esm) return import(pathToFileURL(file).href);
    return createRequire(file)(file);
  }
  throw new RuntimeError("Runtime.ImportModuleError", `Error: Cannot find module '${moduleName}'`);
}

async function loadHandler(taskRoot, handler) {
  const slash = handler.lastIndexOf("/");
  const folder = handler.slice(0, slash + 1);
  const rest = handler.slice(slash + 1);
  const dot = rest.indexOf(".");
  if (dot < 1) throw new RuntimeError("Runtime.MalformedHandlerName", `Bad handler ${handler}`);
  const moduleName = folder + rest.slice(0, dot);
  let module;
  try {
    module = await loadModule(taskRoot, moduleName);
  } catch (error) {
    if (error instanceof RuntimeError) throw error;
    if (error instanceof SyntaxError) throw new RuntimeError("Runtime.UserCodeSyntaxError", `${error.name}: ${error.message}`);
    if (error && (error.code === "MODULE_NOT_FOUND" || error.code === "ERR_MODULE_NOT_FOUND")) {
      throw new RuntimeError("Runtime.ImportModuleError", `Error: ${error.message}`);
    }
    throw error;
  }
  let target = module;
  for (const part of rest.slice(dot + 1).split(".")) {
    target = target === undefined || target === null ? undefined : target[part] ?? target.default?.[part];
  }
  if (target === undefined) throw new RuntimeError("Runtime.HandlerNotFound", `${handler} is undefined or not exported`);
  if (typeof target !== "function") throw new RuntimeError("Runtime.HandlerNotFound", `${handler} is not a function`);
  return target;
}

// --- invocations -------------------------------------------------------------------------

function context(headers, requestId) {
  const env = process.env;
  const deadline = Number(headers["lambda-runtime-deadline-ms"]);
  const parse = (value) => (value ? JSON.parse(value) : undefined);
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: requestId,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: parse(headers["lambda-runtime-cognito-identity"]),
    clientContext: parse(headers["lambda-runtime-client-context"]),
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

function run(handler, event, ctx) {
  // Async handlers answer with their promise; callback handlers (three parameters, or
  // context.succeed/fail/done) with the callback. A plain function's return value is
  // not the answer on Lambda either: it answers null, unless it called the callback.
  return new Promise((resolve, reject) => {
    let settled = false;
    const callback = (error, result) => {
      if (settled) return;
      settled = true;
      if (error !== undefined && error !== null) reject(error);
      else resolve(result);
    };
    ctx.done = callback;
    ctx.succeed = (result) => callback(null, result);
    ctx.fail = (error) => callback(error ?? "handled");
    let returned;
    try {
      returned = handler(event, ctx, callback);
    } catch (error) {
      callback(error);
      return;
    }
    if (returned && typeof returned.then === "function") {
      returned.then(
        (result) => callback(null, result),
        (error) => callback(error ?? new Error("the handler's promise was rejected with nothing")),
      );
    } else if (handler.length < 3) {
      setImmediate(() => callback(null, null));
    }
  });
}

async function serve(handler) {
  for (;;) {
    const next = await call("GET", "/invocation/next");
    if (next.status !== 200) throw new Error(`invocation/next answered ${next.status}`);
    const requestId = next.headers["lambda-runtime-aws-request-id"];
    currentRequestId = requestId;
    if (next.headers["lambda-runtime-trace-id"]) process.env._X_AMZN_TRACE_ID = next.headers["lambda-runtime-trace-id"];
    else delete process.env._X_AMZN_TRACE_ID;
    let result;
    try {
      result = await run(handler, JSON.parse(next.body.toString("utf8")), context(next.headers, requestId));
    } catch (error) {
      console.error("Invoke Error", JSON.stringify(errorBody(error)));
      await postError(`/invocation/${requestId}/error`, error);
      continue;
    }
    let payload;
    try {
      payload = JSON.stringify(result === undefined ? null : result);
    } catch (error) {
      await postError(`/invocation/${requestId}/error`, new RuntimeError("Runtime.MarshalError", `Unable to stringify response body: ${error.message}`));
      continue;
    }
    await post(`/invocation/${requestId}/response`, payload);
  }
}

async function main() {
  const { names } = options(process.argv.slice(2));
  resolveLocally(names);
  logLikeLambda();
  const failed = (type) => (error) => {
    // An error nothing caught ends the environment, as on Lambda; the invocation it
    // happened in (if any) gets it as its error first.
    const route = currentRequestId ? `/invocation/${currentRequestId}/error` : "/init/error";
    console.error(`${type}`, JSON.stringify(errorBody(error)));
    postError(route, error, currentRequestId ? undefined : type).finally(() => process.exit(129));
  };
  process.on("uncaughtException", failed("Runtime.UncaughtException"));
  process.on("unhandledRejection", failed("Runtime.UnhandledPromiseRejection"));
  let handler;
  try {
    handler = await loadHandler(process.env.LAMBDA_TASK_ROOT || process.cwd(), process.env._HANDLER || "");
  } catch (error) {
    console.error(`${error.name}: ${error.message}`);
    await postError("/init/error", error);
    process.exit(1);
  }
  await serve(handler);
}

main().catch((error) => {
  // The Runtime API went away (the emulator stopped): nothing left to serve.
  process.stderr.write(`ws-emulator runtime: ${error.message}\n`);
  process.exit(1);
});

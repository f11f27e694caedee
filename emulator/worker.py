"""One Lambda execution environment: loads a handler and serves invocations.

Run by :mod:`emulator.runner` as ``python -I -S worker.py --runtime DIR [--resolve
HOST=IP:PORT]`` with the function's code directory as working directory and only the
function's environment. What it can import is what Lambda's would: the function's
code (its zip, dependencies included) and the runtime's boto3 and botocore from
``--runtime``; nothing from the emulator's own environment. ``--resolve`` points an
API's AWS hostname at the local ``@connections`` server, in this process only, so
handlers reach ``https://{apiId}.execute-api.{region}.amazonaws.com`` unchanged.

Requests and results are JSON lines on the original stdout/stdin; the handler's own
prints and logs go to stderr, which the runner files under the function's name.
Kept free of the project's imports: it runs beside the function's code only, on the
function's own Python (3.8 and later), so it uses nothing newer.
"""

from __future__ import annotations

import argparse
import array
import contextlib
import ctypes
import decimal
import gc
import importlib
import importlib.util
import json
import logging
import os
import signal
import socket
import sys
import time
import traceback
from typing import Any

_PR_SET_PDEATHSIG = 1


class LambdaContext:
    """The context object AWS's Python runtime passes to a handler."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        env = os.environ
        self.aws_request_id = request_id
        self.function_name = env["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = env.get("_INVOKED_FUNCTION_ARN", "")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


def _setup_logging() -> _RequestIdFilter:
    """Like the Python runtime: ``[LEVEL]\\ttime\\trequest id\\tmessage`` on the root logger."""
    request_filter = _RequestIdFilter()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    handler.addFilter(request_filter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    return request_filter


def _resolve_locally(names: dict[str, tuple[str, int]]) -> None:
    """Answer lookups of these hostnames with a local address and port, here only."""
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.lower() in names:
            address, local_port = names[host.lower()]
            return real_getaddrinfo(address, local_port, *args, **kwargs)
        return real_getaddrinfo(host, port, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


def _error(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "stackTrace": traceback.format_exception(type(exc), exc, exc.__traceback__),
    }


def _decimal(value: Any) -> Any:
    """Like Lambda's runtime: Decimals (as DynamoDB returns numbers) become numbers."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# json.dumps with ``default`` makes an encoder a call; the results share one.
_RESULTS = json.JSONEncoder(default=_decimal)


def _die_with_parent() -> None:
    """Linux: be killed when the runner's process dies, however it dies (even SIGKILL).

    Workers run in a session of their own, so nothing else would end one whose
    emulator was killed; and a handler blocked in a call would never see stdin close.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return  # not Linux: the closed stdin still ends an idle worker
    if os.getppid() == 1:  # the parent died before the request above
        os._exit(1)


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runtime", required=True, help="boto3 and botocore, as Lambda has")
    parser.add_argument("--resolve", action="append", default=[], metavar="HOST=IP:PORT")
    parser.add_argument(
        "--template", type=int, metavar="FD", help="be the template process on this socket"
    )
    parser.add_argument("--debug", metavar="HOST:PORT", help="listen for a debugger (debugpy)")
    parser.add_argument("--debugpy", metavar="DIR", help="the folder debugpy is imported from")
    return parser.parse_args()


def _debuggee(results: Any, address: str, debugpy_dir: str) -> Any:
    """debugpy listening here (:mod:`emulator.debuggee`, loaded by path beside this file)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "debuggee.py")
    spec = importlib.util.spec_from_file_location("_ws_emulator_debuggee", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Debuggee(results, address, debugpy_dir)


def serve(
    runtime: str, resolve: list[str], debug: str | None = None, debugpy_dir: str | None = None
) -> None:
    """Be one execution environment: import the handler, then answer requests on stdin.

    With ``debug`` (``HOST:PORT``), debugpy listens there before the handler is imported.
    """
    # Keep the real stdout for results; everything the handler prints goes to stderr.
    results = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    request_filter = _setup_logging()
    # Started with -I -S: no site-packages. The function sees its own code, then the
    # runtime's libraries, then the standard library; not the emulator's folder.
    here = os.path.dirname(os.path.abspath(__file__))
    standard = [p for p in sys.path if p and os.path.abspath(p) not in (here, runtime)]
    # The code's folder as Lambda names it (the working directory, or a debugged worker's
    # stable link to it, so a debugger's path mapping stays right across reloads).
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    sys.path[:] = [task_root, runtime, *standard]
    names = {}
    for entry in resolve:
        host, _, target = entry.partition("=")
        address, _, port = target.rpartition(":")
        names[host.lower()] = (address, int(port))
    _resolve_locally(names)
    debuggee = _debuggee(results, debug, debugpy_dir or "") if debug else None
    write = debuggee.write if debuggee is not None else lambda text: results.write(text + "\n")
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    handler: Any = None
    init_error: dict[str, Any] | None = None
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:  # reported on every invocation, as Lambda's Runtime.ImportModuleError
        init_error = _error(exc, "Runtime.ImportModuleError")
    for line in sys.stdin:
        request = json.loads(line)
        request_filter.request_id = request["requestId"]
        if init_error is not None:
            reply: dict[str, Any] = {"error": init_error}
        else:
            context = LambdaContext(request["requestId"], request["deadlineMs"])
            if debuggee is not None:
                debuggee.begin(context)
            try:
                reply = {"result": handler(request["event"], context)}
            except Exception as exc:
                reply = {"error": _error(exc)}
            if debuggee is not None:
                debuggee.end()
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            line = _RESULTS.encode(reply)
        except (TypeError, ValueError) as exc:  # a result JSON can't carry
            error = _error(exc, "Runtime.MarshalError")
            error["errorMessage"] = f"Unable to marshal response: {exc}"
            line = json.dumps({"error": error})
        write(line)


# What the template process loads once, for every worker forked from it to share.
_PRELOADED_CLIENTS = ("dynamodb", "apigatewaymanagementapi")


def _preload(runtime: str) -> None:
    """Import boto3 and load the models WebSocket handlers use, as a warm runtime has them."""
    sys.path[:] = [runtime, *sys.path]
    import boto3
    import boto3.dynamodb.conditions

    credentials = {"aws_access_key_id": "preload", "aws_secret_access_key": "preload"}
    for service in _PRELOADED_CLIENTS:
        boto3.client(service, region_name="us-east-1", endpoint_url="https://x", **credentials)
    boto3.resource("dynamodb", region_name="us-east-1", endpoint_url="https://x", **credentials)


def _reap(signum: int, frame: Any) -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _receive(channel: socket.socket) -> tuple[bytes, list[int]]:
    """A request and the descriptors sent with it (``socket.recv_fds``, before 3.9 too)."""
    size = array.array("i").itemsize * 3
    data, ancillary, _, _ = channel.recvmsg(65536, socket.CMSG_LEN(size))
    fds = array.array("i")
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    return data, list(fds)


def template(control: int, runtime: str, resolve: list[str]) -> None:
    """The template process: preload, then fork one worker per request on ``control``.

    A request is a JSON line with the worker's working directory and environment,
    sent with its stdin, stdout and stderr (SCM_RIGHTS); the answer is its pid. A
    forked worker starts warm: boto3 and its models are already there, shared with
    every other worker until they write to them.
    """
    _preload(runtime)
    gc.freeze()  # the collector won't touch (and so copy) the preloaded objects' pages
    signal.signal(signal.SIGCHLD, _reap)
    channel = socket.socket(fileno=control)
    buffer = b""
    while True:
        data, fds = _receive(channel)
        if not data:
            return  # the runner is gone
        buffer += data
        line, _, buffer = buffer.partition(b"\n")
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            channel.close()
            for target, fd in enumerate(fds):
                os.dup2(fd, target)
                os.close(fd)
            os.chdir(request["cwd"])
            os.environ.clear()
            os.environ.update(request["environment"])
            time.tzset()
            sys.dont_write_bytecode = True
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            _die_with_parent()
            try:
                serve(runtime, resolve)
            finally:
                os._exit(0)
        for fd in fds:
            os.close(fd)
        channel.sendall(f"{pid}\n".encode())


def main() -> None:
    _die_with_parent()
    options = _options()
    if options.template is not None:
        template(options.template, options.runtime, options.resolve)
        return
    serve(options.runtime, options.resolve, options.debug, options.debugpy)


if __name__ == "__main__":
    main()

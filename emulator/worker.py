"""One Lambda execution environment: loads a handler and serves invocations.

Run by :mod:`emulator.runner` as ``python worker.py`` with the function's code
directory as working directory and only the function's environment. Requests and
results are JSON lines on the original stdout/stdin; the handler's own prints and
logs go to stderr, which the runner shows under the function's name.

Kept free of the project's imports: it runs beside the function's code only.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import time
import traceback
from typing import Any


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


def _error(exc: BaseException) -> dict[str, Any]:
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def main() -> None:
    # Keep the real stdout for results; everything the handler prints goes to stderr.
    results = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    request_filter = _setup_logging()
    # Run as a script, Python put the emulator's folder first on the path: the function
    # must import only what its zip (and the runtime's boto3) provide.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [os.getcwd()] + [p for p in sys.path if os.path.abspath(p or ".") != here]
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    handler: Any = None
    init_error: dict[str, Any] | None = None
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:  # reported on every invocation, as Lambda's Runtime.ImportModuleError
        traceback.print_exc()
        init_error = _error(exc) | {"errorType": "Runtime.ImportModuleError"}
    for line in sys.stdin:
        request = json.loads(line)
        request_filter.request_id = request["requestId"]
        if init_error is not None:
            reply: dict[str, Any] = {"error": init_error}
        else:
            context = LambdaContext(request["requestId"], request["deadlineMs"])
            try:
                reply = {"result": handler(request["event"], context)}
            except Exception as exc:
                print(
                    json.dumps(_error(exc) | {"requestId": request["requestId"]}),
                    file=sys.stderr,
                )
                reply = {"error": _error(exc)}
        sys.stdout.flush()
        sys.stderr.flush()
        results.write(json.dumps(reply, default=str) + "\n")


if __name__ == "__main__":
    main()

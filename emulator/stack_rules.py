"""What AWS accepts in a stack: Lambda's defaults, the names and values it allows, and
:class:`StackError`, raised with a message that names the part that is wrong."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Lambda's own defaults, for functions that don't say.
DEFAULT_TIMEOUT = 3
DEFAULT_MEMORY = 128
DEFAULT_RUNTIME = "python3.12"
DEFAULT_STAGE = "local"
DEFAULT_REGION = "us-east-1"
DEFAULT_ROUTE_SELECTION = "$request.body.action"

# Stands for the API's id in a function's environment: deploy knows it only once the
# API exists, and puts it in place of this before the function is created or compared.
API_ID = "{{api-id}}"

KEY_TYPES = ("S", "N", "B")
PROJECTIONS = ("ALL", "KEYS_ONLY", "INCLUDE")
CONTENT_HANDLING = ("CONVERT_TO_BINARY", "CONVERT_TO_TEXT")
SPECIAL_ROUTES = ("$connect", "$disconnect", "$default")
# Variables Lambda sets itself; AWS refuses a function configuration that sets them.
RESERVED_VARIABLES = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)

PREFIX_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,19}")
STAGE_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,128}")
REGION_PATTERN = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
TABLE_NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]{3,255}")
FUNCTION_NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
BUCKET_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
VARIABLE_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]+")
HANDLER_PATTERN = re.compile(r"[A-Za-z_][\w.]*\.[A-Za-z_]\w*")
ANY_HANDLER_PATTERN = re.compile(r"[^\s]{1,128}")  # Lambda's: Node.js paths, custom runtimes
ROUTE_SELECTION_PATTERN = re.compile(r"\$request\.body\.[\w.-]+|\$\{request\.body\.[\w.-]+\}")
# AWS allows at most 128 characters in a route key.
ROUTE_KEY_MAX = 128


class StackError(ValueError):
    """A stack description that AWS would refuse; the message says which part."""


def require(condition: bool, message: str) -> None:
    if not condition:
        raise StackError(message)


def unique(kind: str, names: Iterable[str]) -> None:
    seen: set[str] = set()
    for name in names:
        require(name not in seen, f"two {kind}s are named {name!r}")
        seen.add(name)

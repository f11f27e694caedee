"""How deploy talks to AWS: error codes, documented retries, waiters, paging, tags.

botocore's own retries (standard mode, set in :mod:`emulator.targets`) absorb throttling
and 5xx answers. What they don't retry, AWS documents as transient: a role Lambda can't
assume yet (IAM propagation), and S3's ``OperationAborted`` while a change to the same
bucket is under way. Those are retried here, by a named predicate, with growing waits;
every other error reaches the caller, who turns it into one line.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from botocore.exceptions import ClientError

T = TypeVar("T")


def error_code(exc: BaseException) -> str:
    if not isinstance(exc, ClientError):
        return ""
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_error(exc: BaseException, *codes: str) -> bool:
    """Whether ``exc`` is an AWS error with one of these codes (or HTTP statuses)."""
    if not isinstance(exc, ClientError):
        return False
    status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    return error_code(exc) in codes or status in codes


def role_not_yet_assumable(exc: BaseException) -> bool:
    """IAM is eventually consistent: Lambda may not see a role created seconds ago.

    AWS signals it only by this message on an InvalidParameterValueException, so the
    message is what we match (as Chalice does); any other error is not retried.
    """
    return is_error(exc, "InvalidParameterValueException") and "cannot be assumed by Lambda" in str(
        exc
    )


def bucket_busy(exc: BaseException) -> bool:
    """S3's 409 while another change to the bucket (its creation, its settings) goes on."""
    return is_error(exc, "OperationAborted")


def retry(
    call: Callable[[], T],
    retryable: Callable[[Exception], bool],
    attempts: int = 10,
    delay: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call until it succeeds or fails for a reason ``retryable`` doesn't accept."""
    for attempt in range(attempts):
        try:
            return call()
        except Exception as exc:
            if attempt == attempts - 1 or not retryable(exc):
                raise
            sleep(min(delay * 2**attempt, 10 * delay))
    raise AssertionError("unreachable")


def wait(client: Any, waiter: str, patience: float = 1.0, **kwargs: Any) -> None:
    """boto3's waiter, its documented delay scaled by ``patience`` (tests: near 0)."""
    model = client.get_waiter(waiter)
    config = {"Delay": model.config.delay * patience, "MaxAttempts": model.config.max_attempts}
    model.wait(WaiterConfig=config, **kwargs)


def pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item under ``key`` of every page (``key`` may be a dotted path)."""
    for page in client.get_paginator(operation).paginate(**kwargs):
        found: Any = page
        for part in key.split("."):
            found = (found or {}).get(part)
        yield from found or []


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def tag_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in tags or []}


def differs(wanted: Any, current: Any) -> bool:
    """Whether ``current`` (as a service reports it) differs from what we ask for.

    Only what we ask for is compared; a key the service leaves out of its answer is not
    (moto keeps no origin's OriginAccessControlId; AWS always answers it, so AWS drift
    is seen). Lists of names are sets (CloudFront may answer GET, HEAD as HEAD, GET);
    lists of settings must match item for item.
    """
    if isinstance(wanted, dict) and isinstance(current, dict):
        return any(k in current and differs(v, current[k]) for k, v in wanted.items())
    if isinstance(wanted, list) and isinstance(current, list):
        if all(isinstance(item, str) for item in wanted + current):
            return sorted(wanted) != sorted(current)
        return len(wanted) != len(current) or any(
            differs(w, c) for w, c in zip(wanted, current, strict=True)
        )
    return bool(wanted != current)


def merged(current: Any, wanted: Any) -> Any:
    """``current`` with what we ask for laid over it (dicts merge, the rest is replaced)."""
    if isinstance(current, dict) and isinstance(wanted, dict):
        out = dict(current)
        for key, value in wanted.items():
            out[key] = merged(current.get(key), value)
        return out
    return wanted

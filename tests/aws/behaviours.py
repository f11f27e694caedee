"""AWS's documented behaviours, played on the real deploy and destroy code paths.

Everything here hooks into botocore's events on a target's session, so every client
deploy or destroy makes afterwards goes through it; the calls themselves are real
(built and validated by botocore, answered by moto) unless a behaviour answers first:

- ``before-call`` answers a call itself: an AWS error (our own retries must cope), or
  what moto lacks (CloudFront's response headers policies, Budgets' tags);
- ``before-send`` answers on the wire, inside botocore's retry loop, so its standard
  retries see the error (throttling);
- ``after-call`` sees what moto answered: it plays AWS's slower states (a table
  CREATING, a function's update InProgress, a distribution InProgress) and
  interrupts a run after a given write, as Ctrl-C or a lost laptop would.

The messages are AWS's own, as its documentation and users' reports show them.
"""

from __future__ import annotations

import copy
import datetime
import json
import secrets
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.awsrequest import AWSResponse

from emulator.targets import Target, new_session

READS = ("Get", "Describe", "List", "Head", "Scan", "Query")
Call = tuple[str, str]  # (service, operation), e.g. ("lambda", "CreateFunction")
# What played behaviours keep, per account (as AWS keeps it): account key -> name -> state.
_ACCOUNTS: dict[tuple[str | None, str], dict[str, Any]] = {}


class Interrupted(BaseException):
    """The run stops here, as a process killed mid-deploy would (nothing catches it)."""


def is_write(operation: str) -> bool:
    return not operation.startswith(READS) and operation != "GetCallerIdentity"


class _Raw:
    """The body of an answer made up on the wire."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def answer(status: int, parsed: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    """A before-call answer: the HTTP status and what botocore would have parsed."""
    parsed.setdefault("ResponseMetadata", {})["HTTPStatusCode"] = status
    return AWSResponse("https://played.invalid/", status, {}, _Raw(b"")), parsed


def refusal(code: str, message: str, status: int) -> tuple[AWSResponse, dict[str, Any]]:
    return answer(status, {"Error": {"Code": code, "Message": message}})


def wire_error(protocol: str, code: str, message: str, status: int) -> AWSResponse:
    """An error answer as the service's protocol puts it on the wire."""
    headers: dict[str, str] = {}
    if protocol in ("json", "rest-json"):
        headers = {"x-amzn-ErrorType": code, "Content-Type": "application/x-amz-json-1.1"}
        body = json.dumps({"__type": code, "message": message}).encode()
    elif protocol == "query":
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>r</RequestId></ErrorResponse>"
        ).encode()
    else:  # rest-xml
        body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
    return AWSResponse("https://played.invalid/", status, headers, _Raw(body))


class Aws:
    """AWS's behaviours on one target's calls, for as long as it is open.

    Its hooks are registered on the target's session once, before any client of
    :meth:`client` exists, and hand each call to the behaviours playing at that moment
    (:meth:`playing` adds some for a while). ``calls`` lists every call made (service,
    operation) and ``requests`` what each was asked, for assertions on a request's shape.
    """

    def __init__(self, target: Target) -> None:
        self.target = target
        # A LocalStack without API Gateway v2 keeps the API elsewhere: its calls count too.
        homes = [target] + ([target.api_home] if target.api_home is not None else [])
        self.events = [home.session.events for home in homes]
        self.calls: list[Call] = []
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self._handlers: list[tuple[str, str]] = []
        self._clients: dict[str, Any] = {}
        self._raw: dict[str, Any] = {}
        self._answers: list[Callable[[str, str, dict[str, Any]], Any]] = []
        self._after: list[Callable[[str, str, dict[str, Any], dict[str, Any]], None]] = []
        self._senders: list[Callable[[str, str], AWSResponse | None]] = []
        self._on("before-parameter-build", self._record)
        self._on("before-call", self._answer)
        self._on("after-call", self._see)
        self._on("before-send", self._send)

    def _on(self, event: str, handler: Callable[..., Any]) -> None:
        unique = f"played-{secrets.token_hex(4)}"
        for events in self.events:
            events.register(event, handler, unique_id=unique)
        self._handlers.append((event, unique))

    def close(self) -> None:
        for event, unique in self._handlers:
            for events in self.events:
                events.unregister(event, unique_id=unique)

    def __enter__(self) -> Aws:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def client(self, service: str) -> Any:
        """The target's client for ``service``, one per service, under these hooks."""
        if service not in self._clients:
            self._clients[service] = self.target.client(service)
        return self._clients[service]

    # What behaviours plug into.

    def answers(self, handler: Callable[[str, str, dict[str, Any]], Any]) -> None:
        """``handler(service, operation, params)`` may answer a call (else None)."""
        self._answers.append(handler)

    def sees(self, handler: Callable[[str, str, dict[str, Any], dict[str, Any]], None]) -> None:
        """``handler(service, operation, params, parsed)`` after each answer."""
        self._after.append(handler)

    def sends(self, handler: Callable[[str, str], AWSResponse | None]) -> None:
        """``handler(service_id, operation)`` may answer on the wire, inside botocore's retries."""
        self._senders.append(handler)

    @contextmanager
    def playing(self) -> Iterator[Aws]:
        """Behaviours installed inside the block stop playing at its end."""
        counts = len(self._answers), len(self._after), len(self._senders)
        try:
            yield self
        finally:
            del self._answers[counts[0] :], self._after[counts[1] :], self._senders[counts[2] :]

    def kept(self, name: str, make: Callable[[], Any]) -> Any:
        """State a behaviour keeps in the account, across runs and regions (made once)."""
        account = _ACCOUNTS.setdefault((self.target.endpoint_url, self.target.access_key[0]), {})
        return account.setdefault(name, make())

    @property
    def writes(self) -> Counter[str]:
        return Counter(op for _, op in self.calls if is_write(op))

    def raw(self, service: str) -> Any:
        """A client behind none of these behaviours (same account and endpoint)."""
        if service not in self._raw:
            key, secret = self.target.access_key
            session = new_session(
                aws_access_key_id=key, aws_secret_access_key=secret, region_name=self.target.region
            )
            self._raw[service] = session.client(service, endpoint_url=self.target.endpoint_url)
        return self._raw[service]

    # The hooks.

    def _record(
        self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        service = model.service_model.service_name
        context["played"] = (service, model.name, copy.deepcopy(params))
        self.requests.append(context["played"])

    def _answer(self, model: Any, context: dict[str, Any], **_: Any) -> Any:
        service, operation, params = context.get("played") or (
            model.service_model.service_name,
            model.name,
            {},
        )
        self.calls.append((service, operation))
        for handler in list(self._answers):
            answered = handler(service, operation, params)
            if answered is not None:
                return answered
        return None

    def _see(self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        service, operation, params = context.get("played") or (
            model.service_model.service_name,
            model.name,
            {},
        )
        for handler in list(self._after):
            handler(service, operation, params, parsed)

    def _send(self, event_name: str, **_: Any) -> AWSResponse | None:
        _event, service_id, operation = event_name.split(".")
        for handler in list(self._senders):
            answered = handler(service_id, operation)
            if answered is not None:
                return answered
        return None


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)

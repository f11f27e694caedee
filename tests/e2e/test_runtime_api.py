"""The Runtime API server against AWS's documented contract, over real loopback HTTP.

What a runtime sees (AWS Lambda developer guide, "Using the Lambda runtime API for
custom runtimes", API version 2018-06-01): ``invocation/next`` blocks until there is
an event and carries the invocation's headers; ``…/response`` and ``…/error`` are 202
for the invocation in progress and 400 otherwise; a response over 6 MB is 413;
``init/error`` is 202 before the first ``next`` and answers the first invocation.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import h11

from emulator.runtime_api import RESPONSE_LIMIT, Invocation, Outcome, RuntimeApi
from tests.timing import seconds

BASE = "/2018-06-01/runtime"


async def http(
    address: str, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request on its own connection: status, headers (lower case), body."""
    host, port = address.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    client = h11.Connection(h11.CLIENT)
    fields = [("Host", address), ("Content-Length", str(len(body))), ("Connection", "close")]
    fields += list((headers or {}).items())
    writer.write(client.send(h11.Request(method=method, target=path, headers=fields)))
    writer.write(client.send(h11.Data(data=body)) if body else b"")
    writer.write(client.send(h11.EndOfMessage()))
    status, answer, data = 0, {}, bytearray()
    while True:
        event = client.next_event()
        if event is h11.NEED_DATA:
            client.receive_data(await reader.read(65536))
            continue
        if isinstance(event, h11.Response):
            status = event.status_code
            answer = {k.decode().lower(): v.decode() for k, v in event.headers}
        elif isinstance(event, h11.Data):
            data += event.data
        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            break
    writer.close()
    return status, answer, bytes(data)


def invocation(
    request_id: str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd", **extra: Any
) -> Invocation:
    return Invocation(
        request_id=request_id,
        event=b'{"body": "hi"}',
        deadline_ms=1542409706888,
        function_arn="arn:aws:lambda:us-east-2:123456789012:function:custom-runtime",
        trace_id="Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
        **extra,
    )


def served(test: Callable[[RuntimeApi, str], Awaitable[None]]) -> None:
    async def run() -> None:
        api = RuntimeApi()
        address = await api.start()
        try:
            await asyncio.wait_for(test(api, address), seconds(20))
        finally:
            await api.close()

    # On a thread of its own: the browser tests leave Playwright's loop running on this one.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, run()).result()


def test_next_blocks_until_an_invocation_then_carries_its_headers() -> None:
    """GET next waits; then 200, the event as body, and the documented headers."""

    async def test(api: RuntimeApi, address: str) -> None:
        waiting = asyncio.ensure_future(http(address, "GET", f"{BASE}/invocation/next"))
        done, _ = await asyncio.wait({waiting}, timeout=0.2)
        assert not done  # no invocation yet: the runtime is still waiting
        answered = asyncio.ensure_future(api.invoke(invocation(client_context='{"c": 1}')))
        status, headers, body = await waiting
        assert status == 200
        assert json.loads(body) == {"body": "hi"}
        assert headers["lambda-runtime-aws-request-id"] == "8476a536-e9f4-11e8-9739-2dfe598c3fcd"
        assert headers["lambda-runtime-deadline-ms"] == "1542409706888"
        assert headers["lambda-runtime-invoked-function-arn"].endswith(":function:custom-runtime")
        assert headers["lambda-runtime-trace-id"].startswith("Root=1-5bef4de7-")
        assert headers["lambda-runtime-client-context"] == '{"c": 1}'
        assert "lambda-runtime-cognito-identity" not in headers  # only when there is one
        status, _, body = await http(
            address,
            "POST",
            f"{BASE}/invocation/{headers['lambda-runtime-aws-request-id']}/response",
            b'{"statusCode": 200}',
        )
        assert (status, json.loads(body)) == (202, {"status": "OK"})
        outcome = await answered
        assert outcome.reply() == {"result": {"statusCode": 200}}

    served(test)


def test_a_response_for_another_request_id_is_400_and_changes_nothing() -> None:
    """Only the invocation in progress can be answered; a second answer is refused too."""

    async def test(api: RuntimeApi, address: str) -> None:
        answered = asyncio.ensure_future(api.invoke(invocation("one")))
        await http(address, "GET", f"{BASE}/invocation/next")
        status, _, body = await http(address, "POST", f"{BASE}/invocation/two/response", b"1")
        assert status == 400
        assert json.loads(body)["errorType"] == "InvalidRequestID"
        assert not answered.done()
        assert (await http(address, "POST", f"{BASE}/invocation/one/response", b"1"))[0] == 202
        assert (await answered).reply() == {"result": 1}
        assert (await http(address, "POST", f"{BASE}/invocation/one/response", b"2"))[0] == 400

    served(test)


def test_an_invocation_error_keeps_its_type_message_and_trace() -> None:
    """POST …/error: the body's errorType (or the header's), message and stack trace."""

    async def test(api: RuntimeApi, address: str) -> None:
        answered = asyncio.ensure_future(api.invoke(invocation("e")))
        await http(address, "GET", f"{BASE}/invocation/next")
        error = {"errorMessage": "no such room", "errorType": "TypeError", "stackTrace": ["a", "b"]}
        status, _, _ = await http(
            address,
            "POST",
            f"{BASE}/invocation/e/error",
            json.dumps(error).encode(),
            {"Lambda-Runtime-Function-Error-Type": "Unhandled"},
        )
        assert status == 202
        assert (await answered).reply() == {
            "error": {
                "errorType": "TypeError",
                "errorMessage": "no such room",
                "stackTrace": ["a\n", "b\n"],
            }
        }

    served(test)


def test_an_error_type_from_the_header_alone() -> None:
    """A body that isn't the error shape: the header's type and the body as message."""
    outcome = Outcome("error", b"it broke", "Runtime.ExitError")
    assert outcome.reply()["error"] == {
        "errorType": "Runtime.ExitError",
        "errorMessage": "it broke",
        "stackTrace": [],
    }


def test_an_init_error_answers_the_first_invocation() -> None:
    """init/error before any next: 202, and the next invocation gets that error."""

    async def test(api: RuntimeApi, address: str) -> None:
        error = {"errorMessage": "Cannot find module 'x'", "errorType": "Runtime.ImportModuleError"}
        status, _, _ = await http(address, "POST", f"{BASE}/init/error", json.dumps(error).encode())
        assert status == 202
        outcome = await api.invoke(invocation())
        assert outcome.kind == "init_error"
        assert outcome.reply()["error"]["errorType"] == "Runtime.ImportModuleError"

    served(test)


def test_an_init_error_while_an_invocation_waits_answers_it() -> None:
    """A runtime that fails to start while the first invocation waits: that one fails."""

    async def test(api: RuntimeApi, address: str) -> None:
        answered = asyncio.ensure_future(api.invoke(invocation()))
        await http(address, "POST", f"{BASE}/init/error", b'{"errorType": "Runtime.Oops"}')
        assert (await answered).reply()["error"]["errorType"] == "Runtime.Oops"

    served(test)


def test_init_error_after_the_first_next_is_403() -> None:
    """Initialisation ends with the first next: init/error after it is refused."""

    async def test(api: RuntimeApi, address: str) -> None:
        answered = asyncio.ensure_future(api.invoke(invocation("i")))
        await http(address, "GET", f"{BASE}/invocation/next")
        status, _, body = await http(address, "POST", f"{BASE}/init/error", b"{}")
        assert status == 403
        assert json.loads(body)["errorType"] == "InvalidStateTransition"
        await http(address, "POST", f"{BASE}/invocation/i/response", b"null")
        assert (await answered).reply() == {"result": None}

    served(test)


def test_a_response_over_6_mb_is_413_and_fails_the_invocation() -> None:
    """Lambda's synchronous limit: the runtime hears 413, the invocation is too large."""

    async def test(api: RuntimeApi, address: str) -> None:
        answered = asyncio.ensure_future(api.invoke(invocation("big")))
        await http(address, "GET", f"{BASE}/invocation/next")
        body = b'"' + b"x" * RESPONSE_LIMIT + b'"'
        status, _, answer = await http(address, "POST", f"{BASE}/invocation/big/response", body)
        assert status == 413
        assert json.loads(answer)["errorType"] == "RequestEntityTooLarge"
        assert (await answered).kind == "too_large"

    served(test)


def test_unknown_paths_and_methods() -> None:
    """Another API version or path is 404; the wrong method is 405."""

    async def test(api: RuntimeApi, address: str) -> None:
        assert (await http(address, "GET", "/2020-01-01/runtime/invocation/next"))[0] == 404
        assert (await http(address, "POST", f"{BASE}/invocation/next"))[0] == 405
        assert (await http(address, "GET", f"{BASE}/init/error"))[0] == 405

    served(test)


def test_a_runtime_that_hangs_up_while_waiting_loses_no_invocation() -> None:
    """A next whose runtime went away doesn't swallow the invocation: the next asker gets it."""

    async def test(api: RuntimeApi, address: str) -> None:
        _, writer = await asyncio.open_connection(*address.rsplit(":", 1))
        writer.write(f"GET {BASE}/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        await writer.drain()
        while not api._connections:  # the server is waiting on it
            await asyncio.sleep(0.01)
        writer.close()
        while api._connections:  # the server saw it hang up
            await asyncio.sleep(0.01)
        answered = asyncio.ensure_future(api.invoke(invocation("kept")))
        status, headers, _ = await http(address, "GET", f"{BASE}/invocation/next")
        assert (status, headers["lambda-runtime-aws-request-id"]) == (200, "kept")
        await http(address, "POST", f"{BASE}/invocation/kept/response", b"true")
        assert (await answered).reply() == {"result": True}

    served(test)


def test_a_browser_request_is_refused_and_takes_nothing() -> None:
    """A web page's request (Origin, Sec-Fetch-Mode) is 403 and doesn't take the invocation."""

    async def test(api: RuntimeApi, address: str) -> None:
        answered = asyncio.ensure_future(api.invoke(invocation("mine")))
        for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Mode": "no-cors"}):
            status, _, _ = await http(address, "GET", f"{BASE}/invocation/next", headers=headers)
            assert status == 403
        status, headers, _ = await http(address, "GET", f"{BASE}/invocation/next")
        assert (status, headers["lambda-runtime-aws-request-id"]) == (200, "mine")
        await http(address, "POST", f"{BASE}/invocation/mine/response", b"1")
        assert (await answered).reply() == {"result": 1}

    served(test)

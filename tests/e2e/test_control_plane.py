"""The embedded control plane (moto's server): out of reach of web pages, /moto-api off
unless asked for, DynamoDB correct under concurrent requests, failures one line."""

from __future__ import annotations

import http.client
import logging
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from emulator.cli import build_parser
from emulator.controlplane import ControlPlane
from emulator.targets import Target

NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})


@pytest.fixture(scope="module")
def control_plane() -> Iterator[ControlPlane]:
    """A control plane of this module's own, with /moto-api on: even then, pages can't."""
    plane = ControlPlane(moto_api=True)
    plane.start()
    try:
        yield plane
    finally:
        plane.stop()


@pytest.fixture
def target(control_plane: ControlPlane) -> Target:
    return control_plane.new_account("us-east-1")


def dynamodb(target: Target) -> Any:
    """A DynamoDB client that doesn't retry: a 500 is seen, not hidden by a retry."""
    return target.session.client("dynamodb", endpoint_url=target.endpoint_url, config=NO_RETRIES)


def make_table(target: Target) -> str:
    name = f"t-{secrets.token_hex(4)}"
    dynamodb(target).create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def request(
    plane: ControlPlane, method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One raw HTTP request, headers exactly as given (``Host`` too, if given)."""
    host, port = plane.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.putrequest(method, path, skip_host="Host" in (headers or {}))
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders(b"")
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


# --- web pages ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},  # fetch, a form POST or sendBeacon elsewhere
        {"Origin": "null"},  # a sandboxed frame, a file: page
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # another port on 127.0.0.1 (the chat's website)
        {"Host": "rebound.evil.example"},  # DNS rebinding: the page's own name
    ],
    ids=["origin", "null-origin", "cross-site", "same-site", "rebound-host"],
)
def test_web_pages_cannot_reset_or_use_the_control_plane(
    control_plane: ControlPlane, target: Target, headers: dict[str, str]
) -> None:
    """/moto-api/reset and a DynamoDB call from a page are refused with 403 and no CORS
    header; the account's table is still there."""
    table = make_table(target)
    port = control_plane.url.rsplit(":", 1)[1]
    if "Host" in headers:
        headers = {"Host": f"{headers['Host']}:{port}"}
    status, answer, body = request(control_plane, "POST", "/moto-api/reset", headers)
    assert status == 403, body
    assert not any(name.lower().startswith("access-control-") for name in answer)
    status, answer, _ = request(
        control_plane, "POST", "/", {**headers, "X-Amz-Target": "DynamoDB_20120810.ListTables"}
    )
    assert status == 403
    assert table in dynamodb(target).list_tables()["TableNames"]


def test_no_answer_carries_cors_headers(control_plane: ControlPlane) -> None:
    """Even a request the control plane serves gets no Access-Control-* header."""
    port = control_plane.url.rsplit(":", 1)[1]
    origin = f"http://127.0.0.1:{port}"  # its own pages: served, and still no CORS
    status, answer, _ = request(control_plane, "GET", "/", {"Origin": origin})
    assert status == 200
    assert not any(name.lower().startswith("access-control-") for name in answer)


def test_moto_api_is_off_unless_asked_for(target: Target) -> None:
    """Without moto_api, /moto-api answers 404 and resets nothing; with it, it answers."""
    plane = ControlPlane()
    plane.start()
    try:
        status, _, body = request(plane, "POST", "/moto-api/reset")
        assert status == 404
        assert b"--moto-api" in body
        assert request(plane, "GET", "/moto-api/data.json")[0] == 404
    finally:
        plane.stop()


def test_moto_api_answers_when_asked_for(control_plane: ControlPlane) -> None:
    """With moto_api (serve --moto-api), moto's routes answer programs: its dashboard."""
    status, answer, body = request(control_plane, "GET", "/moto-api/")
    assert status == 200, body
    assert answer["Content-Type"].startswith("text/html")


def test_serve_has_a_moto_api_flag() -> None:
    """``serve --moto-api`` asks for the routes; they are off without it."""
    parser = build_parser()
    assert parser.parse_args(["serve", "template.yaml", "--moto-api"]).moto_api
    assert not parser.parse_args(["serve", "template.yaml"]).moto_api


# --- DynamoDB under concurrency ------------------------------------------------------------


def test_concurrent_transactions_neither_fail_nor_lose_writes(target: Target) -> None:
    """Transactions (some cancelled) and writes on many threads at once: no 500, every
    acknowledged write stored, every successful transaction stored whole."""
    table = make_table(target)
    seed = dynamodb(target)
    for n in range(300):  # a table worth copying: moto copied it whole per transaction
        seed.put_item(TableName=table, Item={"pk": {"S": "seed"}, "sk": {"S": f"{n:04}"}})
    seed.put_item(TableName=table, Item={"pk": {"S": "taken"}, "sk": {"S": "1"}})
    failures: list[str] = []
    written: list[str] = []
    committed: list[str] = []
    stop = threading.Event()

    def cancelled_transactions() -> None:
        client = dynamodb(target)
        while not stop.is_set():
            put = {"Put": {"TableName": table, "Item": {"pk": {"S": "taken"}, "sk": {"S": "1"}}}}
            put["Put"]["ConditionExpression"] = "attribute_not_exists(sk)"
            try:
                client.transact_write_items(TransactItems=[put])
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    failures.append(exc.response["Error"]["Code"])

    def transactions(n: int) -> None:
        client = dynamodb(target)
        for i in range(25):
            key = f"{n}-{i}"
            items = [
                {"Put": {"TableName": table, "Item": {"pk": {"S": "tx"}, "sk": {"S": key}}}},
                {"Put": {"TableName": table, "Item": {"pk": {"S": "tx2"}, "sk": {"S": key}}}},
            ]
            try:
                client.transact_write_items(TransactItems=items)
                committed.append(key)
            except ClientError as exc:
                failures.append(exc.response["Error"]["Code"])

    def writes(n: int) -> None:
        client = dynamodb(target)
        for i in range(50):
            key = f"{n}-{i}"
            try:
                client.put_item(TableName=table, Item={"pk": {"S": "w"}, "sk": {"S": key}})
                written.append(key)
            except ClientError as exc:
                failures.append(exc.response["Error"]["Code"])

    background = [threading.Thread(target=cancelled_transactions) for _ in range(2)]
    workers = [threading.Thread(target=transactions, args=(n,)) for n in range(3)]
    workers += [threading.Thread(target=writes, args=(n,)) for n in range(3)]
    for thread in background + workers:
        thread.start()
    for thread in workers:
        thread.join()
    stop.set()
    for thread in background:
        thread.join()

    def stored(pk: str) -> set[str]:
        pages = seed.get_paginator("query").paginate(
            TableName=table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}},
        )
        return {item["sk"]["S"] for page in pages for item in page["Items"]}

    assert failures == []
    assert stored("w") == set(written)
    assert stored("tx") == stored("tx2") == set(committed)
    assert len(committed) == 75


def test_a_cancelled_transaction_puts_back_what_it_changed(target: Target) -> None:
    """Update, Put and Delete, then a failed condition: the transaction is cancelled with
    DynamoDB's reasons, and every item is as it was."""
    table = make_table(target)
    client = dynamodb(target)

    def key(sk: str) -> dict[str, Any]:
        return {"pk": {"S": "p"}, "sk": {"S": sk}}

    client.put_item(TableName=table, Item={**key("kept"), "v": {"N": "1"}})
    client.put_item(TableName=table, Item={**key("deleted"), "v": {"N": "1"}})
    items = [
        {
            "Update": {
                "TableName": table,
                "Key": key("kept"),
                "UpdateExpression": "SET v = :two",
                "ExpressionAttributeValues": {":two": {"N": "2"}},
            }
        },
        {"Put": {"TableName": table, "Item": {**key("new"), "v": {"N": "1"}}}},
        {"Delete": {"TableName": table, "Key": key("deleted")}},
        {
            "ConditionCheck": {
                "TableName": table,
                "Key": key("absent"),
                "ConditionExpression": "attribute_exists(sk)",
            }
        },
    ]
    with pytest.raises(ClientError) as caught:
        client.transact_write_items(TransactItems=items)
    error = caught.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    reasons = [reason["Code"] for reason in error["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "ConditionalCheckFailed"]
    after = client.query(
        TableName=table,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p"}},
    )["Items"]
    assert {(item["sk"]["S"], item["v"]["N"]) for item in after} == {
        ("kept", "1"),
        ("deleted", "1"),
    }


# --- failures ---------------------------------------------------------------------------


def test_a_request_moto_fails_on_is_a_500_and_one_line(
    control_plane: ControlPlane, target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    """When moto raises, the SDK gets a 500, the terminal one line (no traceback), and the
    control plane's log file the traceback."""
    guard = control_plane.guard
    moto = guard.app

    def failing(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("HTTP_X_AMZ_TARGET", "").endswith(".DescribeLimits"):
            raise RuntimeError("dictionary changed size during iteration")
        return moto(environ, start_response)

    guard.app = failing
    try:
        with caplog.at_level(logging.INFO), pytest.raises(ClientError) as caught:
            dynamodb(target).describe_limits()
    finally:
        guard.app = moto
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("emulator")]
    assert len(lines) == 1, lines
    assert "DescribeLimits" in lines[0]
    assert "RuntimeError" in lines[0]
    assert "Traceback" not in caplog.text
    assert "\n" not in lines[0]
    assert str(control_plane.log_path) in lines[0]
    logged = control_plane.log_path.read_text()
    assert "Traceback (most recent call last)" in logged
    assert "dictionary changed size during iteration" in logged


V2_ONLY = """
import sys
from emulator.controlplane import ControlPlane

plane = ControlPlane()
plane.start()
try:
    target = plane.new_account("us-east-1")
    v2 = target.client("apigatewayv2")
    api = v2.create_api(Name="a", ProtocolType="WEBSOCKET",
                        RouteSelectionExpression="$request.body.action")
    assert [a["ApiId"] for a in v2.get_apis()["Items"]] == [api["ApiId"]]
    print("v1 imported:", "moto.apigateway.models" in sys.modules)
    target.client("apigateway").create_rest_api(name="rest")
    print("v1 serves:", [a["name"] for a in target.client("apigateway").get_rest_apis()["items"]])
finally:
    plane.stop()
"""


def test_api_gateway_v2_is_served_without_importing_v1() -> None:
    """WebSocket APIs need only moto's v2 module (v1's import is slow); v1 still answers."""
    done = subprocess.run(
        [sys.executable, "-c", V2_ONLY], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.splitlines() == ["v1 imported: False", "v1 serves: ['rest']"]


def test_the_emulators_own_clients_are_answered_in_process() -> None:
    """A target's clients skip HTTP (no socket in the environ) yet pass the guard and its
    middleware, and see what an HTTP client sees: objects, streamed bodies, errors."""
    plane = ControlPlane()
    plane.start()
    seen: list[tuple[str, bool]] = []

    def record(app: Any) -> Any:
        def recorded(environ: dict[str, Any], start_response: Any) -> Any:
            seen.append((environ["REQUEST_METHOD"], "werkzeug.socket" in environ))
            return app(environ, start_response)

        return recorded

    try:
        plane.add_middleware(record)
        target = plane.new_account("us-east-1")
        s3 = target.client("s3")
        s3.create_bucket(Bucket="in-process")
        s3.put_object(Bucket="in-process", Key="a b/ü.txt", Body=b"hello", Metadata={"x_y": "1"})
        assert seen
        assert not any(socket for _, socket in seen)
        body = s3.get_object(Bucket="in-process", Key="a b/ü.txt")["Body"]
        assert body.read() == b"hello"
        with pytest.raises(ClientError) as missing:
            s3.head_object(Bucket="in-process", Key="nothing")
        assert missing.value.response["Error"]["Code"] == "404"
        with pytest.raises(ClientError) as no_table:
            target.client("dynamodb").describe_table(TableName="nothing")
        assert no_table.value.response["Error"]["Code"] == "ResourceNotFoundException"

        over_http = target.session.client("s3", endpoint_url=target.endpoint_url)
        got = over_http.get_object(Bucket="in-process", Key="a b/ü.txt")
        assert got["Body"].read() == b"hello"
        assert got["Metadata"] == {"x_y": "1"}
        assert seen[-1] == ("GET", True)
    finally:
        plane.stop()

"""The pytest plugin from the outside: small projects of tests, run by pytest in a child.

Most projects are the example project's template (tests/fixtures/example-project) with
a ``pytest.ini`` and test modules written for the case at hand; the fresh-stack tests
have a template and handler of their own, with every route.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.timing import seconds

TEMPLATE = Path(__file__).resolve().parents[1] / "fixtures" / "example-project" / "template.yaml"
COUNT = '''
import json
from pathlib import Path

from websockets.sync.client import connect


def count(websocket_api, word):
    with connect(websocket_api.url) as ws:
        ws.send(json.dumps({"action": "count", "word": word}))
        return json.loads(ws.recv(timeout=10))


def note_account(websocket_api):
    """Which account (so which harness) served this test."""
    with Path(__file__).with_name("accounts.txt").open("a") as file:
        file.write(websocket_api.credentials[0] + "\\n")
'''


def ini(pytester: pytest.Pytester, **options: str) -> None:
    lines = [f"websocket_api_{key} = {value}" for key, value in options.items()]
    pytester.makeini(
        "[pytest]\naddopts = --strict-markers -p no:cacheprovider\n" + "\n".join(lines)
    )
    pytester.makepyfile(helpers=COUNT)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*args, timeout=seconds(240))


@pytest.mark.parametrize(
    ("isolation", "counts"), [("test", (1, 1)), ("module", (2, 2)), ("session", (2, 4))]
)
def test_isolation_decides_how_long_data_lives(
    pytester: pytest.Pytester, isolation: str, counts: tuple[int, int]
) -> None:
    """Two modules of two tests: data kept per test, per module, or in all; one deploy."""
    ini(pytester, template=str(TEMPLATE), isolation=isolation)
    test = """
from helpers import count, note_account

def test_first(websocket_api):
    note_account(websocket_api)
    count(websocket_api, "apple")

def test_second(websocket_api):
    note_account(websocket_api)
    assert count(websocket_api, "apple")["count"] == {count}
"""
    pytester.makepyfile(test_a=test.format(count=counts[0]), test_b=test.format(count=counts[1]))
    run(pytester).assert_outcomes(passed=4)
    accounts = (pytester.path / "accounts.txt").read_text().split()
    assert len(accounts) == 4
    assert len(set(accounts)) == 1  # the stack was deployed once, then restored


def test_markers_override_the_ini_options(pytester: pytest.Pytester) -> None:
    """A module's marker changes the parameters, a test's marker the isolation, on top."""
    ini(pytester, template=str(TEMPLATE), parameters="Greeting=Hi", isolation="session")
    pytester.makepyfile(
        test_plain="""
from helpers import count

def test_the_ini_parameters(websocket_api):
    assert count(websocket_api, "apple")["greeting"] == "Hi"
""",
        test_marked="""
import pytest
from helpers import count, note_account

pytestmark = pytest.mark.websocket_api(parameters={"Greeting": "Yo"})

def test_the_module_marker(websocket_api):
    note_account(websocket_api)
    assert count(websocket_api, "apple") == {"greeting": "Yo", "word": "apple", "count": 1}

@pytest.mark.websocket_api(isolation="test")
def test_the_test_marker_too(websocket_api):
    note_account(websocket_api)
    assert count(websocket_api, "apple") == {"greeting": "Yo", "word": "apple", "count": 1}
""",
    )
    run(pytester).assert_outcomes(passed=3)
    first, second = (pytester.path / "accounts.txt").read_text().split()
    assert first != second


def test_a_failure_shows_what_the_functions_logged_during_that_test(
    pytester: pytest.Pytester,
) -> None:
    """With a shared harness, a failed test's report and ``log()`` hold only its own lines."""
    ini(pytester, template=str(TEMPLATE), isolation="session")
    pytester.makepyfile(
        test_logs="""
from helpers import count

def test_passes(websocket_api):
    count(websocket_api, "apple")
    assert "counted 'apple': 1" in websocket_api.log("CountFunction")

def test_fails(websocket_api):
    count(websocket_api, "pear")
    assert "apple" not in websocket_api.log("CountFunction")
    assert "counted 'pear': 1" in websocket_api.log("CountFunction")
    assert False, "on purpose"
"""
    )
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    report = result.stdout.str()
    assert report.count("Captured function logs call") == 1
    section = report[report.index("Captured function logs call") :]
    assert "--- CountFunction (" in section
    assert "counted 'pear': 1" in section
    assert "counted 'apple'" not in section


def test_configuration_mistakes_fail_in_one_line(pytester: pytest.Pytester) -> None:
    """No template, an unknown isolation or marker key: the test errors, saying what to fix."""
    ini(pytester)
    pytester.makepyfile(
        test_mistakes="""
import pytest

def test_no_template(websocket_api):
    pass

@pytest.mark.websocket_api(template="template.yaml", isolation="forever")
def test_bad_isolation(websocket_api):
    pass

@pytest.mark.websocket_api(template="template.yaml", stages="dev")
def test_unknown_key(websocket_api):
    pass

@pytest.mark.websocket_api(template="missing.yaml")
def test_missing_template(websocket_api):
    pass
"""
    )
    result = run(pytester)
    result.assert_outcomes(errors=4)
    result.stdout.fnmatch_lines(
        [
            "*no stack to run: set websocket_api_template*",
            "*isolation 'forever': use test, module, session*",
            "*websocket_api marker: unknown stages*",
            "*missing.yaml*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_the_ini_options_are_documented_in_help(pytester: pytest.Pytester) -> None:
    """`pytest --help` lists every websocket_api_* option; the marker is in `--markers`."""
    ini(pytester)
    shown = run(pytester, "--help").stdout.str()
    for key in ("template", "parameters", "stage", "region", "isolation"):
        assert f"websocket_api_{key}" in shown
    run(pytester, "--markers").stdout.fnmatch_lines(["@pytest.mark.websocket_api(template=*"])


FRESH_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Things:
    Type: AWS::Serverless::SimpleTable
    Properties:
      PrimaryKey: {Name: pk, Type: String}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: things.handler
      Runtime: python3.12
      Environment:
        Variables:
          THINGS: !Ref Things
  Api:
    Type: AWS::Serverless::WebSocketApi
    Properties:
      StageName: test
      RouteSelectionExpression: $request.body.action
      Routes:
        $connect: {FunctionArn: !GetAtt Fn.Arn}
        $disconnect: {FunctionArn: !GetAtt Fn.Arn}
        write: {FunctionArn: !GetAtt Fn.Arn}
        state: {FunctionArn: !GetAtt Fn.Arn}
"""
FRESH_HANDLER = """
import json
import os
import uuid

import boto3

table = boto3.resource("dynamodb").Table(os.environ["THINGS"])
ENVIRONMENT = str(uuid.uuid4())  # which execution environment answers
WRITTEN = []  # what this environment wrote, kept in module state


def handler(event, context):
    request = event["requestContext"]
    route, connection = request["routeKey"], request["connectionId"]
    if route == "$disconnect":
        print(f"disconnected {connection} {request.get('disconnectStatusCode')}")
        table.put_item(Item={"pk": f"gone#{connection}"})
        return {"statusCode": 200}
    if route == "$connect":
        table.put_item(Item={"pk": f"open#{connection}"})
        return {"statusCode": 200}
    body = json.loads(event["body"])
    if route == "write":
        table.put_item(Item={"pk": body["word"]})
        WRITTEN.append(body["word"])
    items = sorted(item["pk"] for item in table.scan()["Items"])
    reply = {"connection": connection, "items": items, "environment": ENVIRONMENT,
             "written": WRITTEN}
    boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=f"https://{request['domainName']}/{request['stage']}",
    ).post_to_connection(ConnectionId=connection, Data=json.dumps(reply).encode())
    return {"statusCode": 200}
"""
FRESH_TESTS = """
import json

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

LEFT = {}


def ask(ws, action, **fields):
    ws.send(json.dumps({"action": action, **fields}))
    return json.loads(ws.recv(timeout=10))


def test_first(websocket_api):
    ws = connect(websocket_api.url)
    reply = ask(ws, "write", word="apple")
    assert reply["items"] == ["apple", f"open#{reply['connection']}"]
    assert reply["written"] == ["apple"]
    websocket_api.client("dynamodb").create_table(
        TableName="made-by-a-test",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    LEFT.update(ws=ws, reply=reply)  # left open when the test ends


def test_second(websocket_api):
    left, before = LEFT["ws"], LEFT["reply"]
    with pytest.raises(ConnectionClosed) as closed:
        left.recv(timeout=10)
    assert closed.value.rcvd.code == 1001
    whole_log = websocket_api.log_path("Fn").read_text()
    assert f"disconnected {before['connection']} 1001" in whole_log
    with connect(websocket_api.url) as ws:
        reply = ask(ws, "state")
    assert reply["items"] == [f"open#{reply['connection']}"]
    assert reply["written"] == []
    assert reply["environment"] != before["environment"]
    tables = websocket_api.client("dynamodb").list_tables()["TableNames"]
    assert tables == [websocket_api.tables["Things"]]
"""


@pytest.mark.parametrize("isolation", ["test", "module"])
def test_a_fresh_stack_keeps_nothing_of_the_scope_before(
    pytester: pytest.Pytester, isolation: str
) -> None:
    """Items, tables, open connections ($disconnect delivered) and module state: all gone."""
    pytester.makefile(".yaml", template=FRESH_TEMPLATE)
    (pytester.path / "src").mkdir()
    (pytester.path / "src" / "things.py").write_text(FRESH_HANDLER)
    ini(pytester, template="template.yaml", isolation=isolation)
    if isolation == "test":
        pytester.makepyfile(test_fresh=FRESH_TESTS)
    else:  # the same two tests, each in a module of its own
        first, second = FRESH_TESTS.split("\n\ndef test_second")
        imports = "from test_a import LEFT, ConnectionClosed, ask, connect, pytest\n"
        pytester.makepyfile(test_a=first, test_b=f"{imports}\n\ndef test_second{second}")
    run(pytester).assert_outcomes(passed=2)

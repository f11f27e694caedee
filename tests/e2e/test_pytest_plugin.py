"""The pytest plugin from the outside: small projects of tests, run by pytest in a child.

Each project is the example project's template (tests/fixtures/example-project) with
a ``pytest.ini`` and test modules written for the case at hand.
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
    ("isolation", "harnesses", "counts"),
    [("test", 4, (1, 1)), ("module", 2, (2, 2)), ("session", 1, (2, 4))],
)
def test_isolation_decides_how_long_a_harness_lives(
    pytester: pytest.Pytester, isolation: str, harnesses: int, counts: tuple[int, int]
) -> None:
    """Two modules of two tests: a harness (an account) per test, per module, or one in all."""
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
    assert len(set(accounts)) == harnesses


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

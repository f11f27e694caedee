"""Deploy's pure pieces: retries, packages, names, drift, policies, alarms, the dashboard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from emulator import package
from emulator.deploy import (
    DeployError,
    Options,
    Report,
    calls,
    cdn,
    dashboard,
    functions,
    monitoring,
    retry,
    role_not_yet_assumable,
)
from emulator.deploy.executor import Context
from emulator.deploy.models import STACK_TAG, Foreign, ForeignResources, Names
from emulator.stack import Stack
from emulator.targets import Target
from emulator.website import SECURITY_HEADERS, content_security_policy
from scripts.stack import FUNCTIONS, HANDLERS_DIR, chat_stack


def _client_error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "CreateFunction")


NOT_ASSUMABLE = _client_error(
    "InvalidParameterValueException",
    "The role defined for the function cannot be assumed by Lambda.",
)


def test_role_propagation_is_retried_until_it_succeeds() -> None:
    """A role Lambda can't assume yet is retried, with growing waits, until it works."""
    outcomes: list[object] = [NOT_ASSUMABLE, NOT_ASSUMABLE, "created"]
    waits: list[float] = []

    def call() -> object:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert retry(call, role_not_yet_assumable, sleep=waits.append) == "created"
    assert waits == [1.0, 2.0]


def test_other_errors_are_not_retried() -> None:
    """Any other error, even the same code with another message, fails at once."""
    other = _client_error("InvalidParameterValueException", "Unzipped size must be smaller")
    waits: list[float] = []

    def call() -> None:
        raise other

    with pytest.raises(ClientError):
        retry(call, role_not_yet_assumable, sleep=waits.append)
    assert waits == []
    assert not role_not_yet_assumable(ValueError("cannot be assumed by Lambda"))


def test_retry_gives_up_after_its_attempts() -> None:
    """A role that never becomes assumable fails after the last attempt."""
    waits: list[float] = []

    def call() -> None:
        raise NOT_ASSUMABLE

    with pytest.raises(ClientError):
        retry(call, role_not_yet_assumable, attempts=3, sleep=waits.append)
    assert len(waits) == 2


def test_packages_are_reproducible_and_per_function(tmp_path: Path) -> None:
    """Same sources give the same bytes; each zip holds its entry module and the core."""
    first = package.build(FUNCTIONS[0], "a", tmp_path, HANDLERS_DIR)
    again = package.build(FUNCTIONS[0], "b", tmp_path, HANDLERS_DIR)
    other = package.build(FUNCTIONS[1], "c", tmp_path, HANDLERS_DIR)
    assert first.data == again.data
    assert first.sha256 != other.sha256
    import zipfile

    names = zipfile.ZipFile(first.path).namelist()
    assert "connect.py" in names
    assert "chat/rules/__init__.py" in names  # the core, subpackages included
    assert "send_message.py" not in names


# --- the pure parts of the split deployer -------------------------------------------


def context(stack: Stack | None = None, region: str = "us-east-1") -> Context:
    """A deploy's context with no AWS behind it (nothing here calls AWS)."""
    ctx = Context(
        stack or chat_stack(stage="prod", region=region),
        Target.aws(region),
        Options(),
        Report(out=None),
        dry_run=True,
    )
    ctx.refs.account = "123456789012"
    return ctx


def test_a_service_may_leave_out_keys_but_not_change_them() -> None:
    """Drift is what the service reports differently; keys it doesn't report aren't drift."""
    wanted = {"Origin": {"Id": "web", "OriginAccessControlId": "E1"}, "Methods": ["GET", "HEAD"]}
    assert not calls.differs(wanted, {"Origin": {"Id": "web"}, "Methods": ["HEAD", "GET"]})
    assert calls.differs(wanted, {"Origin": {"Id": "web", "OriginAccessControlId": ""}})
    assert calls.differs({"Items": [{"A": 1}]}, {"Items": [{"A": 1}, {"A": 2}]})
    assert calls.merged({"Keep": 1, "Set": {"A": 1, "B": 2}}, {"Set": {"A": 3}}) == {
        "Keep": 1,
        "Set": {"A": 3, "B": 2},
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"log_retention_days": 10}, "LOG_RETENTION_DAYS=10"),
        ({"alarm_email": "ops"}, "ALARM_EMAIL='ops'"),
        ({"budget_usd": -5.0}, "BUDGET_USD=-5"),
    ],
)
def test_options_aws_would_refuse_are_refused(options: dict[str, Any], message: str) -> None:
    """Retention, email and budget are checked before anything is looked up."""
    with pytest.raises(DeployError, match=message):
        Options(**options)


def test_names_are_unique_per_region_and_prefix() -> None:
    """Global resources (role, CloudFront's, dashboard, budget) carry the region and prefix;
    the tag carries the region."""
    seen = set()
    for region in ("us-east-1", "eu-west-1"):
        for prefix in ("", "dev"):
            stack = chat_stack(prefix=prefix, region=region)
            names = Names(stack)
            global_names = (
                stack.role_name,
                names.dashboard,
                names.budget,
                names.origin_access_control,
                names.headers_policy,
                names.distribution,
                stack.stack_id,
            )
            assert not seen & set(global_names)
            seen |= set(global_names)
    assert len(seen) == 4 * 7


def test_the_role_may_not_create_log_groups() -> None:
    """Deploy makes the log groups (with retention): the functions can only write to them."""
    document = functions.policy_document(context(), "abc123")
    actions = {a for s in document["Statement"] for a in _list(s["Action"])}
    assert "logs:CreateLogGroup" not in actions
    assert {"logs:CreateLogStream", "logs:PutLogEvents"} <= actions
    resources = [r for s in document["Statement"] for r in _list(s["Resource"])]
    assert all(":us-east-1:123456789012:" in r for r in resources)


def test_cloudfront_headers_are_the_local_servers() -> None:
    """The response headers policy sends the CSP the local website server sends for the page."""
    stack = chat_stack()
    assert stack.website is not None
    page = (stack.website.directory / "index.html").read_bytes()
    config = cdn.headers_policy_config(context(stack), stack.website)["SecurityHeadersConfig"]
    csp = config["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    assert csp == content_security_policy(page, "text/html; charset=utf-8")
    assert len(csp) <= 1783  # CloudFront's limit for this header
    assert config["FrameOptions"]["FrameOption"] == dict(SECURITY_HEADERS)["X-Frame-Options"]


def test_alarms_cover_every_function_the_api_and_every_table() -> None:
    """One error-rate alarm per function, two for the API's 5xx, one per table."""
    ctx = context()
    alarms = monitoring.alarm_definitions(ctx)
    stack = ctx.stack
    assert len(alarms) == len(stack.all_functions) + 2 + len(stack.tables)
    assert len({a["AlarmName"] for a in alarms}) == len(alarms)
    assert all(a["AlarmName"].startswith(ctx.names.alarm_prefix) for a in alarms)


def test_the_dashboard_says_whose_it_is() -> None:
    """The dashboard's first widget carries the stack's tag; that is how deploy knows it."""
    ctx = context()
    body = dashboard.dashboard_body(ctx)
    assert dashboard.owner_tags(body) == {STACK_TAG: ctx.stack.stack_id}
    assert dashboard.owner_tags({"widgets": []}) == {}


def test_foreign_resources_are_named_with_their_tags() -> None:
    """The one-line refusal names every resource and its tags, and what to do."""
    found = [Foreign("table", "ChatRooms", {"owner": "bob"}), Foreign("role", "r", {})]
    text = str(ForeignResources(found, "chat/default/us-east-1"))
    assert "table ChatRooms (its tags: owner=bob); role r (its tags: none)" in text
    assert "\n" not in text


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]

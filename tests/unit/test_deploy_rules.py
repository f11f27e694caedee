"""Deploy's pure pieces: the IAM propagation retry and the reproducible packages."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from emulator import package
from emulator.deploy import retry, role_not_yet_assumable
from scripts.stack import FUNCTIONS, HANDLERS_DIR


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

"""The template cache: cfn-lint's decoding and SAM's expansion done once per input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from emulator import template_file
from emulator.template_file import TemplateError, decode, expand_sam

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Environment:
        Variables:
          NAME: !Sub "${AWS::StackName}-fn"
"""


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "ws-emulator" / "templates"


def refuse(*_: Any) -> Any:
    raise AssertionError("computed again: the cache was not used")


def parameters(account: str, stack: str = "s") -> dict[str, str]:
    return {"AWS::AccountId": account, "AWS::StackName": stack, "AWS::Region": "us-east-1"}


def test_a_template_is_decoded_once_and_again_when_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same bytes come from the cache, as decoded; changed bytes are decoded anew."""
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    first = decode(path)
    monkeypatch.setattr(template_file, "_decode", refuse)
    assert decode(path) == first
    assert first["Resources"]["Fn"]["Properties"]["Handler"] == "app.handler"
    path.write_text(TEMPLATE.replace("app.handler", "other.handler"))
    with pytest.raises(AssertionError, match="computed again"):
        decode(path)


def test_a_template_that_fails_is_not_cached(tmp_path: Path, cache_home: Path) -> None:
    """A decoding error says why each time, and leaves nothing in the cache."""
    path = tmp_path / "template.yaml"
    path.write_text("Resources: [unclosed\n")
    for _ in range(2):
        with pytest.raises(TemplateError):
            decode(path)
    assert not list(cache_home.glob("*.json"))


def test_sam_is_expanded_once_per_input_that_it_can_see(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another random account reuses the expansion; a named pseudo parameter's value does not."""
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    template = decode(path)
    first, code = expand_sam(template, tmp_path, parameters("111111111111"), "us-east-1")
    assert code == {"Fn": (tmp_path / "src").resolve()}
    assert first["Resources"]["Fn"]["Type"] == "AWS::Lambda::Function"
    monkeypatch.setattr(template_file, "_expand_sam", refuse)
    again = expand_sam(template, tmp_path, parameters("222222222222"), "us-east-1")
    assert again == (first, code)
    for changed in (
        (template, tmp_path, parameters("111111111111", stack="other"), "us-east-1"),
        (template, tmp_path, parameters("111111111111"), "eu-west-1"),
        (template, tmp_path / "elsewhere", parameters("111111111111"), "us-east-1"),
    ):
        with pytest.raises(AssertionError, match="computed again"):
            expand_sam(*changed)

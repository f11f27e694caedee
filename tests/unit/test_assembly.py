"""Choosing the stack of a CDK cloud assembly (cdk.out) to serve."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from emulator.assembly import choose, is_assembly, stacks
from emulator.template_file import TemplateError

WEBSOCKET = {"Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"ProtocolType": "WEBSOCKET"}}}
HTTP = {"Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"ProtocolType": "HTTP"}}}


def stack_artifact(template: str, **extra: Any) -> dict[str, Any]:
    return {"type": "aws:cloudformation:stack", "properties": {"templateFile": template}, **extra}


def assembly(folder: Path, templates: dict[str, dict[str, Any]], **artifacts: Any) -> Path:
    """A cloud assembly with one stack artifact per template, plus the given artifacts."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {"version": "55.0.0", "artifacts": dict(artifacts)}
    for name, resources in templates.items():
        (folder / f"{name}.template.json").write_text(json.dumps({"Resources": resources}))
        manifest["artifacts"].setdefault(name, stack_artifact(f"{name}.template.json"))
    manifest["artifacts"]["Tree"] = {"type": "cdk:tree", "properties": {"file": "tree.json"}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_the_stack_with_a_websocket_api_is_chosen(tmp_path: Path) -> None:
    """Of a web stack, a data stack and a chat stack, the chat one holds the WebSocket API."""
    out = assembly(tmp_path / "cdk.out", {"Web": HTTP, "Data": {}, "Chat": WEBSOCKET})
    assert is_assembly(out)
    assert not is_assembly(tmp_path)
    chosen = choose(out, None)
    assert (chosen.artifact_id, chosen.stack_name) == ("Chat", "Chat")
    assert chosen.template == out / "Chat.template.json"


def test_several_candidates_are_listed_in_one_line(tmp_path: Path) -> None:
    """Two stacks with a WebSocket API: the error names both and --stack."""
    out = assembly(tmp_path / "cdk.out", {"ChatDev": WEBSOCKET, "ChatProd": WEBSOCKET})
    with pytest.raises(TemplateError) as refused:
        choose(out, None)
    assert "2 stacks have a WebSocket API (ChatDev, ChatProd): choose one with --stack" in str(
        refused.value
    )
    assert "\n" not in str(refused.value)


def test_stack_chooses_by_id_stack_name_or_display_name(tmp_path: Path) -> None:
    """--stack takes the artifact id, the deployed stack name or CDK's display path."""
    out = assembly(
        tmp_path / "cdk.out",
        {"ChatDev": WEBSOCKET, "ChatProd": WEBSOCKET},
        ChatProd=stack_artifact(
            "ChatProd.template.json",
            displayName="Prod/Chat",
            properties={"templateFile": "ChatProd.template.json", "stackName": "prod-chat"},
        ),
    )
    for name in ("ChatProd", "prod-chat", "Prod/Chat"):
        assert choose(out, name).stack_name == "prod-chat"
    with pytest.raises(TemplateError, match=r"--stack Nope: .* \(its stacks: ChatDev, Prod/Chat\)"):
        choose(out, "Nope")


def test_a_stage_is_a_nested_assembly(tmp_path: Path) -> None:
    """A CDK Stage's stacks sit in a nested assembly folder; they are found there."""
    out = tmp_path / "cdk.out"
    assembly(out / "assembly-Prod", {"ProdChat": WEBSOCKET})
    nested = {"type": "cdk:cloud-assembly", "properties": {"directoryName": "assembly-Prod"}}
    assembly(out, {"Tools": {}}, **{"assembly-Prod": nested})
    assert sorted(s.artifact_id for s in stacks(out)) == ["ProdChat", "Tools"]
    assert choose(out, None).template == out / "assembly-Prod" / "ProdChat.template.json"


def test_no_websocket_api_or_no_manifest_content_is_one_line(tmp_path: Path) -> None:
    """No candidate names the stacks there are; a broken manifest says to synthesize again."""
    out = assembly(tmp_path / "cdk.out", {"Web": HTTP})
    with pytest.raises(TemplateError, match=r"no stack has a WebSocket API \(its stacks: Web\)"):
        choose(out, None)
    (out / "manifest.json").write_text("{")
    with pytest.raises(TemplateError, match=r"can.t be read as JSON .*run `cdk synth` again"):
        choose(out, None)

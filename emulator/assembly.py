"""A CDK cloud assembly (what ``cdk synth`` writes to ``cdk.out``) as a template to serve.

The assembly's ``manifest.json`` lists its artifacts; each CloudFormation stack names its
template file, and a CDK ``Stage`` is a nested assembly in a folder of its own. The
stack served is the one named by ``--stack`` (its id, its stack name or the path CDK
displays, such as ``Prod/Chat``), or else the only one holding a WebSocket API.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.template_file import TemplateError

MANIFEST = "manifest.json"
_STACK = "aws:cloudformation:stack"
_NESTED = "cdk:cloud-assembly"


@dataclass(frozen=True)
class AssemblyStack:
    """One CloudFormation stack of a cloud assembly."""

    artifact_id: str
    stack_name: str
    display_name: str
    template: Path

    @property
    def names(self) -> set[str]:
        """What ``--stack`` may call it."""
        return {self.artifact_id, self.stack_name, self.display_name}


def is_assembly(path: Path) -> bool:
    """Whether ``path`` is a cloud assembly's folder (``cdk.out``)."""
    return path.is_dir() and (path / MANIFEST).is_file()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise TemplateError(
            f"{path}: can't be read as JSON ({exc}); run `cdk synth` again"
        ) from exc


def stacks(directory: Path) -> list[AssemblyStack]:
    """Every CloudFormation stack of the assembly, nested stages' included."""
    manifest = _read_json(directory / MANIFEST)
    artifacts = manifest.get("artifacts") if isinstance(manifest, dict) else None
    if not isinstance(artifacts, dict):
        raise TemplateError(f"{directory / MANIFEST}: no artifacts; run `cdk synth` again")
    found: list[AssemblyStack] = []
    for artifact_id, artifact in artifacts.items():
        if not isinstance(artifact, dict):
            continue
        properties = artifact.get("properties") or {}
        if artifact.get("type") == _STACK and "templateFile" in properties:
            found.append(
                AssemblyStack(
                    artifact_id=artifact_id,
                    stack_name=str(properties.get("stackName") or artifact_id),
                    display_name=str(artifact.get("displayName") or artifact_id),
                    template=directory / str(properties["templateFile"]),
                )
            )
        elif artifact.get("type") == _NESTED and "directoryName" in properties:
            nested = directory / str(properties["directoryName"])
            if is_assembly(nested):
                found += stacks(nested)
    return found


def _has_websocket_api(template: Path) -> bool:
    resources = _read_json(template).get("Resources") or {}
    return any(
        isinstance(resource, dict)
        and (
            resource.get("Type") == "AWS::Serverless::WebSocketApi"
            or (
                resource.get("Type") == "AWS::ApiGatewayV2::Api"
                and (resource.get("Properties") or {}).get("ProtocolType") == "WEBSOCKET"
            )
        )
        for resource in resources.values()
    )


def choose(directory: Path, wanted: str | None) -> AssemblyStack:
    """The stack to serve: ``wanted``, or the only one with a WebSocket API."""
    every = stacks(directory)
    listed = ", ".join(sorted(s.display_name for s in every)) or "none"
    if wanted is not None:
        for stack in every:
            if wanted in stack.names:
                return stack
        raise TemplateError(
            f"--stack {wanted}: {directory} has no such stack (its stacks: {listed})"
        )
    candidates = [s for s in every if _has_websocket_api(s.template)]
    if not candidates:
        raise TemplateError(f"{directory}: no stack has a WebSocket API (its stacks: {listed})")
    if len(candidates) > 1:
        names = ", ".join(sorted(s.display_name for s in candidates))
        raise TemplateError(
            f"{directory}: {len(candidates)} stacks have a WebSocket API ({names}): "
            "choose one with --stack"
        )
    return candidates[0]

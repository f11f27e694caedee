"""Read a WebSocket API's SAM or CloudFormation template into a :class:`~emulator.stack.Stack`.

The template is a file, or a CDK cloud assembly (``cdk.out``) whose stack is chosen by
:mod:`emulator.assembly`. :mod:`emulator.template_file` decodes it and expands SAM,
:mod:`emulator.intrinsics` gives the parameters' values, and
:mod:`emulator.template_reader` reads the resources the emulator serves (their names
and attributes are :mod:`emulator.template_resources`').
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator import assembly
from emulator.intrinsics import parameters as parameters_of
from emulator.stack import DEFAULT_REGION, Stack, StackError
from emulator.template_file import TemplateError, decode, expand_sam, is_sam
from emulator.template_reader import Reader
from emulator.template_resources import generated_name
from emulator.template_tables import TABLE_TYPES

__all__ = ["LoadedTemplate", "TemplateError", "default_stack_name", "generated_name", "load"]


@dataclass
class LoadedTemplate:
    """A template read into a stack, and what was left out of it."""

    stack: Stack
    skipped: list[str] = field(default_factory=list)  # one line each
    tables: dict[str, str] = field(default_factory=dict)  # logical id -> table name
    sources: list[Path] = field(default_factory=list)  # the files read: template, zips


def default_stack_name(path: Path) -> str:
    """A stack name from the template's folder, as a user would call the stack: the
    project's folder when a tool wrote the template (cdk.out, .serverless, .aws-sam/build)."""
    folder = path.resolve().parent if path.is_file() or not path.exists() else path.resolve()
    if folder.match(".aws-sam/build"):
        folder = folder.parent.parent
    elif folder.name == ".serverless" or assembly.is_assembly(folder):
        folder = folder.parent
    name = re.sub(r"[^A-Za-z0-9-]+", "-", folder.name).strip("-")
    return (name if name and name[0].isalpha() else f"stack-{name}")[:64] or "stack"


def _built_by_sam(template: Mapping[str, Any], path: Path) -> bool:
    """Whether ``sam build`` wrote the template (its functions' folders hold their dependencies)."""
    if path.resolve().parent.match(".aws-sam/build"):
        return True
    return any(
        isinstance(resource, dict) and "SamResourceId" in (resource.get("Metadata") or {})
        for resource in template["Resources"].values()
    )


def load(
    path: Path,
    *,
    parameters: Mapping[str, str] | None = None,
    stage: str | None = None,
    region: str = DEFAULT_REGION,
    account_id: str = "123456789012",
    stack_name: str | None = None,
    api: str | None = None,
    stack: str | None = None,
    work_dir: Path,
) -> LoadedTemplate:
    """Read a template into a stack; ``work_dir`` receives unpacked and inline code.

    ``path`` is a template file or a cloud assembly (``cdk.out``), whose stack is
    ``stack`` (or the only one with a WebSocket API).
    """
    if assembly.is_assembly(path):
        chosen = assembly.choose(path, stack)
        path, stack_name = chosen.template, stack_name or chosen.stack_name
    elif path.is_dir():
        raise TemplateError(
            f"{path} is a folder: give a template file, or a CDK cloud assembly (a folder with "
            "manifest.json, as `cdk synth` writes cdk.out)"
        )
    elif stack is not None:
        raise TemplateError(
            f"--stack {stack}: it chooses a stack of a CDK cloud assembly (cdk.out), and "
            f"{path.name} is a template"
        )
    template = decode(path)
    stack_name = stack_name or default_stack_name(path)
    values = parameters_of(template, parameters or {}, stack_name, region, account_id)
    built = _built_by_sam(template, path)
    local_code: dict[str, Path] = {}
    if is_sam(template):
        declared = set(template.get("Parameters") or {})
        template, local_code = expand_sam(
            template,
            path.resolve().parent,
            {k: v for k, v in values.items() if k in declared or k.startswith("AWS::")},
            region,
        )
    reader = Reader(
        template,
        values,
        stack_name,
        region,
        account_id,
        local_code,
        path.resolve().parent,
        work_dir,
        built,
    )
    try:
        read = reader.read(stage, api)
    except StackError as exc:
        raise TemplateError(str(exc)) from exc
    tables = {
        logical_id: read.table_name(table)
        for logical_id in reader.of_type(*TABLE_TYPES)
        for table in read.tables
        if table.name == reader.names[logical_id]
    }
    sources = [path.resolve(), *dict.fromkeys(reader.archives)]
    return LoadedTemplate(stack=read, skipped=reader.skipped, tables=tables, sources=sources)

"""A template file as data: decoded by cfn-lint, SAM expanded by AWS's translator.

cfn-lint's decoder reads the YAML (short forms such as ``!Ref`` included) or JSON;
``aws-sam-translator`` expands SAM (``AWS::Serverless::*``, ``Globals``) into plain
CloudFormation, as ``sam deploy`` would. A function's local ``CodeUri`` (a folder or a
zip file) is carried across the expansion, which only knows code in S3.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
LOCAL_CODE_BUCKET = "ws-emulator-local-code"  # stands for a local CodeUri through SAM


class TemplateError(ValueError):
    """A template the emulator can't run; the message names the resource and the fix."""


def decode(path: Path) -> dict[str, Any]:
    """The template as data, through cfn-lint's decoder (YAML short forms included)."""
    from cfnlint.decode import decode as cfn_decode

    if not path.is_file():
        raise TemplateError(f"{path}: no such template file")
    template, matches = cfn_decode(str(path))
    if matches:
        first = matches[0]
        raise TemplateError(f"{path}:{first.linenumber}: {first.message}")
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise TemplateError(f"{path}: a template needs a Resources section")
    plain: dict[str, Any] = _plain(template)
    return plain


def _plain(value: Any) -> Any:
    """cfn-lint's nodes as plain dicts, lists and strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def is_sam(template: Mapping[str, Any]) -> bool:
    """Whether the template asks for SAM's transform."""
    transform = template.get("Transform")
    transforms = transform if isinstance(transform, list) else [transform]
    return SAM_TRANSFORM in transforms


def expand_sam(
    template: dict[str, Any], base: Path, parameters: dict[str, Any], region: str
) -> tuple[dict[str, Any], dict[str, Path]]:
    """SAM through aws-sam-translator, and each function's local ``CodeUri`` by logical id."""
    import boto3
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    template = copy.deepcopy(template)
    local_code: dict[str, Path] = {}
    globals_function = (template.get("Globals") or {}).get("Function") or {}
    global_code = globals_function.get("CodeUri")
    if isinstance(global_code, str) and not global_code.startswith("s3://"):
        del globals_function["CodeUri"]
    else:
        global_code = None
    for logical_id, resource in template["Resources"].items():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = resource.setdefault("Properties", {})
        code = properties.get("CodeUri", global_code)
        if isinstance(code, str) and not code.startswith("s3://"):
            local_code[logical_id] = (base / code).resolve()
            properties["CodeUri"] = f"s3://{LOCAL_CODE_BUCKET}/{logical_id}"
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    try:
        expanded = translator.translate(
            template, parameter_values=dict(parameters), get_managed_policy_map=dict
        )
    except InvalidDocumentException as exc:
        causes = "; ".join(cause.message for cause in exc.causes)
        raise TemplateError(f"SAM could not expand the template: {causes}") from exc
    finally:
        translator.metrics.publish()  # to its no-op publisher; else it warns when collected
    return expanded, local_code

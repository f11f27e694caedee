"""A template file as data: decoded by cfn-lint, SAM expanded by AWS's translator.

cfn-lint's decoder reads the YAML (short forms such as ``!Ref`` included) or JSON;
``aws-sam-translator`` expands SAM (``AWS::Serverless::*``, ``Globals``) into plain
CloudFormation, as ``sam deploy`` would. A function's local ``CodeUri`` (a folder or a
zip file) is carried across the expansion, which only knows code in S3.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from emulator import template_cache

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
LOCAL_CODE_BUCKET = "ws-emulator-local-code"  # stands for a local CodeUri through SAM


class TemplateError(ValueError):
    """A template the emulator can't run; the message names the resource and the fix."""


def decode(path: Path) -> dict[str, Any]:
    """The template as data, through cfn-lint's decoder (YAML short forms included);
    cached by the file's bytes (:mod:`emulator.template_cache`)."""
    if not path.is_file():
        raise TemplateError(f"{path}: no such template file")
    data = path.read_bytes()
    name = template_cache.key("cfn-lint", hashlib.sha256(data).hexdigest())

    def unchanged() -> bool:  # what was decoded is what was hashed
        return path.read_bytes() == data

    return template_cache.cached("decoded", name, lambda: _decode(path), unchanged)


def _decode(path: Path) -> dict[str, Any]:
    from cfnlint.decode import decode as cfn_decode

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
    """SAM through aws-sam-translator, and each function's local ``CodeUri`` by logical id;
    cached by what the translator sees (:mod:`emulator.template_cache`).

    A pseudo parameter the template never names (a random ``AWS::AccountId``, say) is
    not part of the key: the translator writes its own uses of them as intrinsics."""
    text = json.dumps(template, sort_keys=True)
    seen = {k: v for k, v in parameters.items() if not k.startswith("AWS::") or k in text}
    name = template_cache.key("aws-sam-translator", text, str(base), seen, region)

    def expand() -> dict[str, Any]:
        expanded, local_code = _expand_sam(template, base, parameters, region)
        return {"template": expanded, "code": {k: str(v) for k, v in local_code.items()}}

    answer = template_cache.cached("expanded", name, expand, lambda: True)
    return answer["template"], {k: Path(v) for k, v in answer["code"].items()}


def _expand_sam(
    template: dict[str, Any], base: Path, parameters: dict[str, Any], region: str
) -> tuple[dict[str, Any], dict[str, Path]]:
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

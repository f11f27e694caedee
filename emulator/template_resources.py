"""A template's resources as a stack sees them: their names, attributes and properties.

Names follow CloudFormation: a resource's own name property when it has one, else
``{stack}-{LogicalId}-{SUFFIX}`` (the suffix derived from both, so a second run gives
the same names). The API's id is known only once deploy created the API, so a
reference to it is :data:`~emulator.stack.API_ID`, which deploy fills in. Properties
are read with their intrinsic functions resolved (:mod:`emulator.intrinsics`).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from typing import Any

from emulator.intrinsics import Resolver
from emulator.stack import API_ID
from emulator.template_tables import TABLE_TYPES

_SUB_REFERENCE = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[^}]*)?\}")
_FUNCTION_ARN = re.compile(r"arn:[^:]+:lambda:[^:]*:[^:]*:function:(?P<name>[A-Za-z0-9_-]+)")

# The property that names a resource, where it has one.
NAME_PROPERTIES = {
    "AWS::Lambda::Function": "FunctionName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::DynamoDB::GlobalTable": "TableName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Logs::LogGroup": "LogGroupName",
}


def _suffix(stack_name: str, logical_id: str, length: int = 12) -> str:
    digest = hashlib.sha256(f"{stack_name}/{logical_id}".encode()).digest()
    return base64.b32encode(digest).decode()[:length]


def generated_name(stack_name: str, logical_id: str, limit: int) -> str:
    """``{stack}-{LogicalId}-{SUFFIX}``, shortened to ``limit`` as CloudFormation does."""
    suffix = _suffix(stack_name, logical_id)
    head = f"{stack_name}-{logical_id}"[: limit - len(suffix) - 1]
    return f"{head}-{suffix}"


class Resources:
    """The resources of one (expanded) template, in a stack of the given name."""

    def __init__(
        self,
        template: Mapping[str, Any],
        values: Mapping[str, Any],
        stack_name: str,
        region: str,
        account_id: str,
    ) -> None:
        self.stack_name = stack_name
        self.region = region
        self.account_id = account_id
        self.resources: dict[str, dict[str, Any]] = {
            logical_id: resource
            for logical_id, resource in template["Resources"].items()
            if isinstance(resource, dict)
        }
        self.names = {
            logical_id: self._physical_name(logical_id, resource)
            for logical_id, resource in self.resources.items()
        }
        self.resolver = Resolver(template, values, self.names, self.attribute)
        # A name property may itself be an intrinsic (!Sub "${AWS::StackName}-events").
        for logical_id, resource in self.resources.items():
            own = NAME_PROPERTIES.get(str(resource.get("Type", "")))
            value = (resource.get("Properties") or {}).get(own) if own else None
            if isinstance(value, dict):
                self.names[logical_id] = str(self.resolver.resolve(value))

    # names and attributes --------------------------------------------------------------

    def _physical_name(self, logical_id: str, resource: Mapping[str, Any]) -> str:
        kind = resource.get("Type", "")
        properties = resource.get("Properties") or {}
        own = NAME_PROPERTIES.get(kind)
        if own and isinstance(properties.get(own), str):
            return str(properties[own])
        if kind == "AWS::ApiGatewayV2::Api":
            return API_ID
        if kind == "AWS::ApiGatewayV2::Stage" and isinstance(properties.get("StageName"), str):
            return str(properties["StageName"])
        marker = {
            "AWS::ApiGatewayV2::Integration": "integration",
            "AWS::ApiGatewayV2::Authorizer": "authorizer",
            "AWS::ApiGatewayV2::Route": "route",
        }.get(kind)
        if marker:
            return f"{marker}:{logical_id}"
        if kind == "AWS::S3::Bucket":
            return generated_name(self.stack_name, logical_id, 63).lower()
        limit = 64 if kind == "AWS::Lambda::Function" else 255
        return generated_name(self.stack_name, logical_id, limit)

    def attribute(self, logical_id: str, attribute: str) -> Any:
        kind = self.resources[logical_id].get("Type", "")
        name = self.names[logical_id]
        region, account = self.region, self.account_id
        if kind == "AWS::ApiGatewayV2::Api":
            if attribute == "ApiEndpoint":
                return f"wss://{API_ID}.execute-api.{region}.amazonaws.com"
            if attribute == "ApiId":
                return API_ID
        arns = {
            "AWS::Lambda::Function": f"arn:aws:lambda:{region}:{account}:function:{name}",
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{region}:{account}:table/{name}",
            "AWS::DynamoDB::GlobalTable": f"arn:aws:dynamodb:{region}:{account}:table/{name}",
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::IAM::Role": f"arn:aws:iam::{account}:role/{name}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{region}:{account}:log-group:{name}:*",
        }
        if attribute == "Arn" and kind in arns:
            return arns[kind]
        if kind in TABLE_TYPES and attribute == "StreamArn":
            return f"{arns[kind]}/stream/local"
        if kind == "AWS::S3::Bucket" and attribute in ("DomainName", "RegionalDomainName"):
            return f"{name}.s3.{region}.amazonaws.com"
        if kind == "AWS::IAM::Role" and attribute == "RoleId":
            return f"AROA{_suffix(self.stack_name, logical_id, 17)}"
        # A resource the emulator doesn't create: a stand-in, reported where it is used.
        return f"arn:aws:{kind.split('::')[1].lower() if '::' in kind else 'unknown'}:{name}"

    # resources -----------------------------------------------------------------------

    # resolved properties ---------------------------------------------------------------

    def properties(self, logical_id: str) -> dict[str, Any]:
        resolved = self.resolver.resolve(self.resources[logical_id].get("Properties") or {})
        return dict(resolved)

    def included(self, logical_id: str) -> bool:
        condition = self.resources[logical_id].get("Condition")
        return condition is None or self.resolver.condition(str(condition))

    def of_type(self, *kinds: str) -> list[str]:
        return [
            logical_id
            for logical_id, resource in self.resources.items()
            if resource.get("Type") in kinds and self.included(logical_id)
        ]

    def function_of(self, uri: str) -> str | None:
        """The logical id of the template's function whose ARN ``uri`` holds, if any."""
        match = _FUNCTION_ARN.search(uri)
        if match is None:
            return None
        by_name = {self.names[f]: f for f in self.of_type("AWS::Lambda::Function")}
        return by_name.get(match["name"])

    def references(self, logical_id: str) -> set[str]:
        """The resources whose Ref, Fn::GetAtt or ${…} a resource's properties use."""
        found: set[str] = set()

        def walk(value: Any) -> None:
            if isinstance(value, list):
                for item in value:
                    walk(item)
            elif isinstance(value, dict):
                for key, item in value.items():
                    if key == "Ref" and isinstance(item, str):
                        found.add(item)
                    elif key == "Fn::GetAtt":
                        target = item.split(".")[0] if isinstance(item, str) else item[0]
                        found.add(str(target))
                    elif key == "Fn::Sub":
                        text = item[0] if isinstance(item, list) else item
                        found.update(_SUB_REFERENCE.findall(str(text)))
                    walk(item)

        walk(self.resources[logical_id].get("Properties") or {})
        return found & set(self.resources)

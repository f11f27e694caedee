"""CloudFormation's intrinsic functions and parameters, evaluated as a stack would see them.

:class:`Resolver` evaluates ``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, ``Fn::Join``,
``Fn::If`` and the rest against the stack's parameters, its conditions and the names
its resources get; :func:`parameters` gives the values of the declared parameters
(defaults, overrides) and the pseudo parameters. docs/templates.md lists what each
resolves to.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from typing import Any

from emulator.template_file import TemplateError

NO_VALUE = object()  # what Ref AWS::NoValue becomes: the property is dropped
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class Resolver:
    """Evaluates intrinsic functions against parameters, conditions and resource names."""

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, Any],
        names: Mapping[str, str],
        attributes: Callable[[str, str], Any],
    ) -> None:
        self._template = template
        self._parameters = parameters
        self._names = names
        self._attributes = attributes
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            spec = (self._template.get("Conditions") or {}).get(name)
            if spec is None:
                raise TemplateError(f"condition {name!r} is not defined in Conditions")
            self._conditions[name] = bool(self.resolve(spec))
        return self._conditions[name]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self.resolve(v) for v in value) if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, argument), *_ = value.items()
            method = _INTRINSICS.get(key)
            if method is not None:
                return method(self, argument)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def ref(self, name: Any) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self._parameters:
            return self._parameters[name]
        if name in self._names:
            return self._names[name]
        raise TemplateError(f"Ref {name!r}: no parameter or resource has that name")

    def get_att(self, argument: Any) -> Any:
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        logical_id, attribute = (self.resolve(a) for a in argument)
        if logical_id not in self._names:
            raise TemplateError(f"Fn::GetAtt {logical_id}.{attribute}: no such resource")
        return self._attributes(logical_id, attribute)

    def sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, values = argument[0], self.resolve(argument[1])
        else:
            text, values = argument, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return str(values[name])
            if "." in name and name.split(".", 1)[0] in self._names:
                return str(self.get_att(name))
            return str(self.ref(name))

        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")

    def join(self, argument: Any) -> str:
        separator, items = argument
        return str(separator).join(str(v) for v in self.resolve(items))

    def select(self, argument: Any) -> Any:
        index, items = self.resolve(argument)
        return items[int(index)]

    def split(self, argument: Any) -> list[str]:
        separator, text = self.resolve(argument)
        return str(text).split(separator)

    def if_(self, argument: Any) -> Any:
        name, when_true, when_false = argument
        return self.resolve(when_true if self.condition(name) else when_false)

    def find_in_map(self, argument: Any) -> Any:
        map_name, top, second = self.resolve(argument)
        try:
            return self._template["Mappings"][map_name][top][second]
        except (KeyError, TypeError) as exc:
            raise TemplateError(f"Fn::FindInMap {map_name}/{top}/{second}: not found") from exc

    def equals(self, argument: Any) -> bool:
        left, right = self.resolve(argument)
        return str(left) == str(right)

    def not_(self, argument: Any) -> bool:
        return not self.resolve(argument)[0]

    def and_(self, argument: Any) -> bool:
        return all(self.resolve(argument))

    def or_(self, argument: Any) -> bool:
        return any(self.resolve(argument))

    def condition_ref(self, name: Any) -> bool:
        return self.condition(str(name))

    def base64(self, argument: Any) -> str:
        return base64.b64encode(str(self.resolve(argument)).encode()).decode()

    def get_azs(self, argument: Any) -> list[str]:
        region = self.resolve(argument) or self._parameters["AWS::Region"]
        return [f"{region}{zone}" for zone in "abc"]

    def import_value(self, argument: Any) -> Any:
        raise TemplateError(
            f"Fn::ImportValue {self.resolve(argument)!r}: other stacks' exports are not "
            "available locally; pass the value as a parameter instead"
        )


_INTRINSICS: dict[str, Callable[[Resolver, Any], Any]] = {
    "Ref": Resolver.ref,
    "Fn::GetAtt": Resolver.get_att,
    "Fn::Sub": Resolver.sub,
    "Fn::Join": Resolver.join,
    "Fn::Select": Resolver.select,
    "Fn::Split": Resolver.split,
    "Fn::If": Resolver.if_,
    "Fn::FindInMap": Resolver.find_in_map,
    "Fn::Equals": Resolver.equals,
    "Fn::Not": Resolver.not_,
    "Fn::And": Resolver.and_,
    "Fn::Or": Resolver.or_,
    "Condition": Resolver.condition_ref,
    "Fn::Base64": Resolver.base64,
    "Fn::GetAZs": Resolver.get_azs,
    "Fn::ImportValue": Resolver.import_value,
}


def parameters(
    template: Mapping[str, Any],
    overrides: Mapping[str, str],
    stack_name: str,
    region: str,
    account_id: str,
) -> dict[str, Any]:
    declared = template.get("Parameters") or {}
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise TemplateError(
            f"--parameter-overrides names {', '.join(unknown)}, which the template doesn't declare"
        )
    values: dict[str, Any] = {
        "AWS::Region": region,
        "AWS::AccountId": account_id,
        "AWS::StackName": stack_name,
        "AWS::StackId": f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/local",
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NotificationARNs": [],
    }
    for name, spec in declared.items():
        spec = spec or {}
        if name in overrides:
            value: Any = overrides[name]
        elif "Default" in spec:
            value = spec["Default"]
        else:
            raise TemplateError(
                f"parameter {name} has no default: pass --parameter-overrides {name}=<value>"
            )
        allowed = spec.get("AllowedValues")
        if allowed is not None and str(value) not in [str(a) for a in allowed]:
            raise TemplateError(
                f"parameter {name}={value!r} is not one of {', '.join(map(str, allowed))}"
            )
        kind = str(spec.get("Type", "String"))
        if kind == "CommaDelimitedList" or kind.startswith("List<"):
            value = value if isinstance(value, list) else [v.strip() for v in str(value).split(",")]
        elif not isinstance(value, str):
            value = str(value)
        values[name] = value
    return values

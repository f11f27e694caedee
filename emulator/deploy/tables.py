"""DynamoDB tables: on-demand, encrypted, with their indexes and TTL.

A table is changed only once it is ACTIVE: DynamoDB refuses changes to a table still
being created or updated (``ResourceInUseException``), which a run interrupted right
after creating it leaves behind for the next run, or for destroy.
"""

from __future__ import annotations

from typing import Any

from emulator.deploy import calls
from emulator.deploy.executor import Context
from emulator.deploy.models import ABSENT, CREATED, DELETED, UNCHANGED, UPDATED, DeployError, Step
from emulator.stack import Table

KIND = "table"


def plan(ctx: Context) -> list[Step]:
    return [step for table in ctx.stack.tables for step in _plan_table(ctx, table)]


def _plan_table(ctx: Context, table: Table) -> list[Step]:
    dynamodb = ctx.client("dynamodb")
    name = ctx.stack.table_name(table)
    definition = definition_of(table, name)
    description = _describe(ctx, name)
    if description is None:

        def create() -> None:
            dynamodb.create_table(**definition, Tags=calls.tag_list(ctx.tags))
            ctx.wait("dynamodb", "table_exists", TableName=name)
            _set_ttl(ctx, table, name)

        return [Step(CREATED, KIND, name, create)]
    if not ctx.owned(KIND, name, _tags(ctx, description["TableArn"])):
        return []
    _check_key_schema(name, definition, description)
    existing = {i["IndexName"] for i in description.get("GlobalSecondaryIndexes", [])}
    missing = [
        g for g in definition.get("GlobalSecondaryIndexes", []) if g["IndexName"] not in existing
    ]
    ttl_differs = _ttl_differs(ctx, table, name)
    if not missing and not ttl_differs:
        return [Step(UNCHANGED, KIND, name)]

    def update() -> None:
        for spec in missing:
            ctx.wait("dynamodb", "table_exists", TableName=name)
            dynamodb.update_table(
                TableName=name,
                AttributeDefinitions=definition["AttributeDefinitions"],
                GlobalSecondaryIndexUpdates=[{"Create": spec}],
            )
        ctx.wait("dynamodb", "table_exists", TableName=name)
        if ttl_differs:
            _set_ttl(ctx, table, name)

    return [Step(UPDATED, KIND, name, update)]


def removal(ctx: Context) -> list[Step]:
    dynamodb = ctx.client("dynamodb")
    steps = []
    for table in ctx.stack.tables:
        name = ctx.stack.table_name(table)
        description = _describe(ctx, name)
        if description is None:
            steps.append(Step(ABSENT, KIND, name))
            continue
        if not ctx.owned(KIND, name, _tags(ctx, description["TableArn"])):
            continue

        def delete(name: str = name) -> None:
            # A table still being created or updated can't be deleted yet.
            ctx.wait("dynamodb", "table_exists", TableName=name)
            dynamodb.delete_table(TableName=name)
            ctx.wait("dynamodb", "table_not_exists", TableName=name)

        steps.append(Step(DELETED, KIND, name, delete))
    return steps


def _describe(ctx: Context, name: str) -> dict[str, Any] | None:
    try:
        return dict(ctx.client("dynamodb").describe_table(TableName=name)["Table"])
    except Exception as exc:
        if calls.is_error(exc, "ResourceNotFoundException"):
            return None
        raise


def _tags(ctx: Context, arn: str) -> dict[str, str]:
    tags = calls.pages(ctx.client("dynamodb"), "list_tags_of_resource", "Tags", ResourceArn=arn)
    return calls.tag_dict(list(tags))


def _check_key_schema(name: str, definition: dict[str, Any], description: dict[str, Any]) -> None:
    have_types = {
        a["AttributeName"]: a["AttributeType"] for a in description["AttributeDefinitions"]
    }
    want_types = {
        a["AttributeName"]: a["AttributeType"] for a in definition["AttributeDefinitions"]
    }
    keys = [k["AttributeName"] for k in definition["KeySchema"]]
    if description["KeySchema"] != definition["KeySchema"] or any(
        have_types.get(k) != want_types[k] for k in keys
    ):
        raise DeployError(
            f"table {name} exists with another key schema "
            f"({_schema_text(description['KeySchema'], have_types)}, the stack wants "
            f"{_schema_text(definition['KeySchema'], want_types)}); a table's key can't "
            "change: remove the table, or choose another prefix"
        )


def _ttl_differs(ctx: Context, table: Table, name: str) -> bool:
    if table.ttl_attribute is None:
        return False
    ttl = ctx.client("dynamodb").describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    return not (
        ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
        and ttl.get("AttributeName") == table.ttl_attribute
    )


def _set_ttl(ctx: Context, table: Table, name: str) -> None:
    if table.ttl_attribute is not None:
        ctx.client("dynamodb").update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
        )


def definition_of(table: Table, name: str) -> dict[str, Any]:
    """CreateTable's arguments for a table (without its tags)."""

    def schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
        out = [{"AttributeName": hash_key, "KeyType": "HASH"}]
        if range_key:
            out.append({"AttributeName": range_key, "KeyType": "RANGE"})
        return out

    def index(spec: Any) -> dict[str, Any]:
        projection: dict[str, Any] = {"ProjectionType": spec.projection}
        if spec.non_key_attributes:
            projection["NonKeyAttributes"] = list(spec.non_key_attributes)
        return {
            "IndexName": spec.name,
            "KeySchema": schema(spec.hash_key, spec.range_key),
            "Projection": projection,
        }

    definition: dict[str, Any] = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": a, "AttributeType": table.key_type(a)} for a in table.key_attributes
        ],
        "KeySchema": schema(table.hash_key, table.range_key),
        "SSESpecification": {"Enabled": True},
    }
    global_indexes = [index(i) for i in table.indexes if not i.local]
    local_indexes = [index(i) for i in table.indexes if i.local]
    if global_indexes:
        definition["GlobalSecondaryIndexes"] = global_indexes
    if local_indexes:
        definition["LocalSecondaryIndexes"] = local_indexes
    return definition


def _schema_text(schema: list[dict[str, str]], types: dict[str, str]) -> str:
    return " + ".join(f"{k['AttributeName']} {types.get(k['AttributeName'], '?')}" for k in schema)

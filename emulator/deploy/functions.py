"""The functions' IAM role, the Lambda functions, and API Gateway's permission to invoke them.

The role is global to the account, so its name carries the region; its inline policy
names only this stack's tables, this API's connections and the functions' own log
groups (which deploy creates, so the functions may only write to them). Lambda takes
one change at a time: each update waits until the function is active and its last
update is done (``ResourceConflictException`` otherwise), and a new role is retried
until Lambda can assume it (IAM propagates in seconds).
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from botocore.exceptions import WaiterError

from emulator import package
from emulator.deploy import calls
from emulator.deploy.executor import Context
from emulator.deploy.models import (
    ABSENT,
    CREATED,
    DELETED,
    NEW,
    UNCHANGED,
    UPDATED,
    DeployError,
    Step,
)
from emulator.stack import API_ID, Function

POLICY_NAME = "chat-access"
LAMBDA_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def role_arn(ctx: Context) -> str:
    return f"arn:aws:iam::{ctx.refs.account}:role/{ctx.stack.role_name}"


def function_arn(ctx: Context, name: str) -> str:
    return f"arn:aws:lambda:{ctx.target.region}:{ctx.refs.account}:function:{name}"


def policy_document(ctx: Context, api_id: str) -> dict[str, Any]:
    """Least privilege: these tables and indexes, this API's connections, own log groups."""
    region, account, stack = ctx.target.region, ctx.refs.account, ctx.stack
    tables = [
        f"arn:aws:dynamodb:{region}:{account}:table/{stack.table_name(t)}" for t in stack.tables
    ]
    logs = [
        f"arn:aws:logs:{region}:{account}:log-group:{log_group(stack.function_name(f))}"
        for f in stack.all_functions
    ]
    statements: list[dict[str, Any]] = []
    if tables:
        statements.append(
            {
                "Sid": "Tables",
                "Effect": "Allow",
                "Action": [
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:Query",
                    "dynamodb:ConditionCheckItem",
                ],
                "Resource": tables + [f"{arn}/index/*" for arn in tables],
            }
        )
    statements += [
        {
            "Sid": "Connections",
            "Effect": "Allow",
            "Action": "execute-api:ManageConnections",
            "Resource": (
                f"arn:aws:execute-api:{region}:{account}:{api_id}/{stack.stage}/*/@connections/*"
            ),
        },
        {
            # No logs:CreateLogGroup: deploy creates the groups, with their retention.
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": logs + [f"{arn}:*" for arn in logs],
        },
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def log_group(function_name: str) -> str:
    """Where Lambda writes a function's logs."""
    return f"/aws/lambda/{function_name}"


# --- the role ----------------------------------------------------------------------


def plan_role(ctx: Context) -> list[Step]:
    iam = ctx.client("iam")
    name = ctx.stack.role_name

    def put_policy() -> None:
        document = json.dumps(policy_document(ctx, ctx.refs.api_id))
        iam.put_role_policy(RoleName=name, PolicyName=POLICY_NAME, PolicyDocument=document)

    tags = _role_tags(ctx, name)
    if tags is None:

        def create() -> None:
            iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST_POLICY),
                Description=f"Runs the {ctx.stack.name} Lambda functions in {ctx.target.region}",
                Tags=calls.tag_list(ctx.tags),
            )
            ctx.wait("iam", "role_exists", RoleName=name)
            put_policy()

        return [Step(CREATED, "role", name, create)]
    if not ctx.owned("role", name, tags):
        return []
    try:
        document = iam.get_role_policy(RoleName=name, PolicyName=POLICY_NAME)["PolicyDocument"]
        if isinstance(document, str):
            document = json.loads(document)
    except Exception as exc:
        if not calls.is_error(exc, "NoSuchEntity"):
            raise
        document = None
    if document == policy_document(ctx, ctx.refs.api_id):
        return [Step(UNCHANGED, "role", name)]
    return [Step(UPDATED, "role", name, put_policy)]


def remove_role(ctx: Context) -> list[Step]:
    iam = ctx.client("iam")
    name = ctx.stack.role_name
    tags = _role_tags(ctx, name)
    if tags is None:
        return [Step(ABSENT, "role", name)]
    if not ctx.owned("role", name, tags):
        return []

    def delete() -> None:
        try:
            iam.delete_role_policy(RoleName=name, PolicyName=POLICY_NAME)
        except Exception as exc:
            if not calls.is_error(exc, "NoSuchEntity"):
                raise
        iam.delete_role(RoleName=name)

    return [Step(DELETED, "role", name, delete)]


def _role_tags(ctx: Context, name: str) -> dict[str, str] | None:
    """The role's tags; None when there is no such role."""
    iam = ctx.client("iam")
    try:
        iam.get_role(RoleName=name)
    except Exception as exc:
        if calls.is_error(exc, "NoSuchEntity"):
            return None
        raise
    return calls.tag_dict(list(calls.pages(iam, "list_role_tags", "Tags", RoleName=name)))


# --- functions ---------------------------------------------------------------------


def plan_functions(ctx: Context, packages: dict[str, package.Package]) -> list[Step]:
    functions = ctx.stack.all_functions
    found = ctx.gather(lambda f: _get_function(ctx, ctx.stack.function_name(f)), functions)
    steps: list[Step] = []
    for function, current in zip(functions, found, strict=True):
        steps += plan_function(ctx, function, packages[ctx.stack.function_name(function)], current)
    return steps


def wanted_configuration(ctx: Context, function: Function, api_id: str) -> dict[str, Any]:
    variables = {
        key: value.replace(API_ID, api_id) for key, value in ctx.stack.environment(function).items()
    }
    return {
        "Role": role_arn(ctx),
        "Handler": function.handler,
        "Runtime": function.runtime,
        "Timeout": function.timeout,
        "MemorySize": function.memory,
        "Environment": {"Variables": variables},
    }


def plan_function(
    ctx: Context, function: Function, code: package.Package, current: dict[str, Any] | None
) -> list[Step]:
    """The function's step, given what GetFunction answered (None: no such function)."""
    awslambda = ctx.client("lambda")
    name = ctx.stack.function_name(function)
    if current is None:

        def create() -> None:
            wanted = wanted_configuration(ctx, function, ctx.refs.api_id)
            ctx.retry(
                lambda: awslambda.create_function(
                    FunctionName=name,
                    Code={"ZipFile": code.data},
                    Description=_describe(function),
                    Tags=ctx.tags,
                    **wanted,
                ),
                calls.role_not_yet_assumable,
            )
            _wait_for(ctx, "function_active_v2", name)

        return [Step(CREATED, "function", name, create)]
    if not ctx.owned("function", name, current.get("Tags")):
        return []
    configuration = current["Configuration"]
    wanted = wanted_configuration(ctx, function, ctx.refs.api_id)
    have = {key: configuration.get(key) for key in wanted}
    have["Environment"] = {
        "Variables": (configuration.get("Environment") or {}).get("Variables", {})
    }
    code_differs = configuration.get("CodeSha256") != code.sha256
    config_differs = have != wanted
    if _cannot_run(ctx, configuration) and (code_differs or config_differs):
        raise DeployError(
            f"LocalStack failed to start function {name} (its Lambda needs Docker) and "
            "refuses to update or delete it since: restart LocalStack (its state is in "
            "memory); `make localstack-up` starts one whose Lambda keeps functions "
            "without Docker"
        )
    if not code_differs and not config_differs:
        return [Step(UNCHANGED, "function", name)]

    def update() -> None:
        if code_differs:
            _settle(ctx, name)
            awslambda.update_function_code(FunctionName=name, ZipFile=code.data)
        if config_differs:
            _settle(ctx, name)
            awslambda.update_function_configuration(
                FunctionName=name, **wanted_configuration(ctx, function, ctx.refs.api_id)
            )
        _wait_for(ctx, "function_updated_v2", name)

    return [Step(UPDATED, "function", name, update)]


def remove_functions(ctx: Context) -> list[Step]:
    awslambda = ctx.client("lambda")
    names = [ctx.stack.function_name(f) for f in ctx.stack.all_functions]
    steps = []
    for name, current in zip(
        names, ctx.gather(lambda n: _get_function(ctx, n), names), strict=True
    ):
        if current is None:
            steps.append(Step(ABSENT, "function", name))
        elif ctx.owned("function", name, current.get("Tags")):
            steps.append(
                Step(
                    DELETED,
                    "function",
                    name,
                    partial(awslambda.delete_function, FunctionName=name),
                )
            )
    return steps


def _get_function(ctx: Context, name: str) -> dict[str, Any] | None:
    try:
        return dict(ctx.client("lambda").get_function(FunctionName=name))
    except Exception as exc:
        if calls.is_error(exc, "ResourceNotFoundException"):
            return None
        raise


def _settle(ctx: Context, name: str) -> None:
    """Wait until Lambda takes a change: created, and no update in progress."""
    _wait_for(ctx, "function_active_v2", name)
    _wait_for(ctx, "function_updated_v2", name)


def _cannot_run(ctx: Context, configuration: dict[str, Any]) -> bool:
    """A function LocalStack failed to start (its own Lambda runs them only with Docker)."""
    failed = ctx.target.name == "localstack" and configuration.get("State") == "Failed"
    if failed and ctx.target_runs_functions:
        ctx.target_runs_functions = False
        reason = str(configuration.get("StateReason"))
        ctx.report.note(
            f"LocalStack could not start the functions ({reason:.80}; its Lambda needs "
            "Docker): it keeps their configuration and code only"
        )
    return failed


def _wait_for(ctx: Context, waiter: str, name: str) -> None:
    try:
        ctx.wait("lambda", waiter, FunctionName=name)
    except WaiterError as exc:
        configuration = (exc.last_response or {}).get("Configuration") or exc.last_response or {}
        if not _cannot_run(ctx, configuration):
            raise


def _describe(function: Function) -> str:
    routes = ", ".join(r.key for r in function.routes)
    return f"serves {routes}" if routes else "authorizer"


# --- API Gateway's permission to invoke ----------------------------------------------


def plan_permissions(ctx: Context) -> list[Step]:
    awslambda = ctx.client("lambda")
    foreign = {f.name for f in ctx.foreign if f.kind == "function"}
    names = [ctx.stack.function_name(f) for f in ctx.stack.all_functions]
    names = [name for name in names if name not in foreign]
    statement_id = f"apigateway-{ctx.refs.api_id}"
    steps = []
    for name, sids in zip(names, ctx.gather(lambda n: _statement_ids(ctx, n), names), strict=True):
        if statement_id in sids:
            steps.append(Step(UNCHANGED, "permission", name))
            continue

        def add(name: str = name) -> None:
            api_id = ctx.refs.api_id
            awslambda.add_permission(
                FunctionName=name,
                StatementId=f"apigateway-{api_id}",
                Action="lambda:InvokeFunction",
                Principal="apigateway.amazonaws.com",
                SourceArn=f"arn:aws:execute-api:{ctx.target.region}:{ctx.refs.account}:{api_id}/*",
            )

        steps.append(Step(CREATED, "permission", name, add))
    return steps


def _statement_ids(ctx: Context, name: str) -> set[str]:
    """The ids of the statements of the function's resource policy."""
    if ctx.refs.api_id == NEW:
        return set()
    try:
        policy = json.loads(ctx.client("lambda").get_policy(FunctionName=name)["Policy"])
    except Exception as exc:
        if calls.is_error(exc, "ResourceNotFoundException"):
            return set()
        raise
    return {str(s.get("Sid")) for s in policy.get("Statement", [])}

"""Create or update every resource of a stack, idempotently, on any target.

Each ``ensure_*`` step looks the resource up, creates it when missing, updates it
when it differs from the :class:`~emulator.stack.Stack`, and reports ``created``,
``updated`` or ``unchanged``. A second run against an up-to-date stack makes no write
call at all. With ``dry_run`` the same look-ups run and the plan is reported; nothing
is written. The chat's command line is ``scripts/deploy.py``.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TextIO, TypeVar

from botocore.exceptions import ClientError, WaiterError

from emulator import package
from emulator.stack import API_ID, Function, Stack, Table, Website
from emulator.targets import Target

T = TypeVar("T")
CREATED, UPDATED, UNCHANGED, DELETED = "created", "updated", "unchanged", "deleted"
STACK_TAG = "chat:stack"
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
POLICY_NAME = "chat-access"
CACHE_HTML = "no-cache"
CACHE_ASSETS = "max-age=300"
NEW = "(new)"  # stands for an id a dry run can't know yet


class DeployError(Exception):
    """Something the user must resolve (e.g. a name taken by a resource not ours)."""


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def role_not_yet_assumable(exc: Exception) -> bool:
    """IAM is eventually consistent: Lambda may not see a role created seconds ago.

    AWS signals it only by this message on an InvalidParameterValueException, so the
    message is what we match (as Chalice does); any other error is not retried.
    """
    return (
        isinstance(exc, ClientError)
        and error_code(exc) == "InvalidParameterValueException"
        and "cannot be assumed by Lambda" in str(exc)
    )


def retry(
    call: Callable[[], T],
    retryable: Callable[[Exception], bool],
    attempts: int = 10,
    delay: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call until it succeeds or fails for a reason ``retryable`` doesn't accept."""
    for attempt in range(attempts):
        try:
            return call()
        except Exception as exc:
            if attempt == attempts - 1 or not retryable(exc):
                raise
            sleep(min(delay * 2**attempt, 10))
    raise AssertionError("unreachable")


@dataclass
class Report:
    """What each step did (or, in a dry run, would do), printed to ``out`` as it happens."""

    out: TextIO | None = sys.stdout  # None: keep the steps, print nothing
    dry_run: bool = False
    steps: list[tuple[str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __call__(self, action: str, kind: str, name: str) -> None:
        self.steps.append((action, kind, name))
        if self.out is None:
            return
        shown = (
            f"would {action.removesuffix('d')}" if self.dry_run and action != UNCHANGED else action
        )
        print(f"  {shown:<13} {kind:<16} {name}", file=self.out, flush=True)

    @property
    def changes(self) -> list[tuple[str, str, str]]:
        return [s for s in self.steps if s[0] != UNCHANGED]

    def note(self, text: str) -> None:
        """Something the user should know about this deploy; not a step."""
        self.notes.append(text)
        if self.out is not None:
            print(f"  note: {text}", file=self.out, flush=True)

    def summary(self) -> str:
        """One line: how many of each kind each action touched."""
        counts = Counter((action, kind) for action, kind, _ in self.steps)
        by_action: dict[str, list[str]] = {}
        for (action, kind), n in counts.items():
            by_action.setdefault(action, []).append(f"{n} {kind}{'s' if n > 1 else ''}")
        return "; ".join(f"{action} {', '.join(kinds)}" for action, kinds in by_action.items())


@dataclass(frozen=True)
class Outputs:
    """What a deploy leaves for the emulator, the tests and the client."""

    target: str
    region: str
    endpoint_url: str | None
    api_id: str
    stage: str
    websocket_url: str
    website_url: str | None
    bucket: str | None
    functions: dict[str, str]  # route key (or "authorizer") -> function name
    tables: dict[str, str]  # environment variable -> table name
    packages: dict[str, str]  # function name -> zip deployed

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def read(cls, path: Path) -> Outputs:
        return cls(**json.loads(path.read_text()))


class Deployer:
    """Brings one target in line with one :class:`Stack`.

    Function packages are built into ``build_dir`` (by default a temporary directory
    that lives as long as the deployer); ``cache_dir`` keeps installed dependencies.
    """

    def __init__(
        self,
        stack: Stack,
        target: Target,
        report: Report | None = None,
        dry_run: bool = False,
        build_dir: Path | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self.stack = stack
        self.target = target
        self.dry_run = dry_run
        self.report = report or Report(dry_run=dry_run)
        if build_dir is None:
            self._build_tmp = tempfile.TemporaryDirectory(prefix="ws-emulator-build-")
            build_dir = Path(self._build_tmp.name)
        self.build_dir = build_dir
        self.cache_dir = cache_dir
        self.dynamodb = target.client("dynamodb")
        self.iam = target.client("iam")
        self.awslambda = target.client("lambda")
        self.apigw = target.client("apigatewayv2")
        # The embedded moto server holds the API (alone, or beside LocalStack's services).
        self.apigw_is_moto = (target.api_home or target).name == "local"
        self.s3 = target.client("s3")
        self.sts = target.client("sts")
        # False once the target has shown it can't run functions (LocalStack without Docker).
        self.target_runs_functions = True

    def _apply(self, write: Callable[[], T]) -> T | None:
        """Run a write, unless this is a dry run."""
        return None if self.dry_run else write()

    # --- the whole stack -------------------------------------------------------

    def build(self, function: Function) -> package.Package:
        """The function's package, in the build directory."""
        return package.build(
            function,
            self.stack.function_name(function),
            self.build_dir,
            self.stack.source,
            self.cache_dir,
        )

    def deploy(self, websocket_url: str | None = None) -> Outputs:
        """Create or update everything; ``websocket_url`` overrides the API's own."""
        stack = self.stack
        account = self.target.account_id()
        packages = {stack.function_name(f): self.build(f) for f in stack.all_functions}
        for table in stack.tables:
            self.ensure_table(table)
        api_id, api_endpoint = self.ensure_api()
        role_arn = self.ensure_role(account, api_id)
        arns = {
            name: self.ensure_function(function, role_arn, packages[name], api_id)
            for function in stack.all_functions
            for name in [stack.function_name(function)]
        }
        authorizer_id = self.ensure_authorizer(api_id, arns)
        self.ensure_routes(api_id, arns, authorizer_id)
        for function in stack.all_functions:
            self.ensure_permission(function, account, api_id)
        self.ensure_stage(api_id)
        for name in stack.buckets:
            self.ensure_bucket(stack.bucket(name))
        websocket_url = websocket_url or f"{api_endpoint}/{stack.stage}"
        bucket = website_url = None
        if stack.website is not None:
            bucket = stack.website_bucket(account)
            bucket_is_new = self.ensure_bucket(bucket, stack.website)
            self.ensure_client(stack.website, bucket, websocket_url, bucket_is_new)
            website_url = self.website_url(bucket)
        functions = {
            route_key: stack.function_name(function)
            for route_key, (function, _) in stack.route_function().items()
        }
        if stack.authorizer is not None:
            functions["authorizer"] = stack.function_name(stack.authorizer.function)
        return Outputs(
            target=self.target.name,
            region=self.target.region,
            endpoint_url=self.target.endpoint_url,
            api_id=api_id,
            stage=stack.stage,
            websocket_url=websocket_url,
            website_url=website_url,
            bucket=bucket,
            functions=functions,
            tables={t.env_var or t.name: stack.table_name(t) for t in stack.tables},
            packages={name: str(code.path) for name, code in packages.items()},
        )

    def website_url(self, bucket: str) -> str:
        if self.target.emulated:
            return f"{self.target.endpoint_url}/{bucket}/index.html"
        return f"http://{bucket}.s3-website-{self.target.region}.amazonaws.com"

    def _tags(self) -> dict[str, str]:
        return {STACK_TAG: self.stack.stack_id}

    def _check_ours(self, kind: str, name: str, tags: dict[str, str] | None) -> None:
        if (tags or {}).get(STACK_TAG) != self.stack.stack_id:
            raise DeployError(
                f"{kind} {name} exists but was not created by this stack "
                f"({STACK_TAG}={self.stack.stack_id}): choose another --prefix, or remove it"
            )

    # --- tables ------------------------------------------------------------------

    def ensure_table(self, table: Table) -> None:
        name = self.stack.table_name(table)
        definition = self._table_definition(table, name)
        try:
            description = self.dynamodb.describe_table(TableName=name)["Table"]
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise

            def create() -> None:
                self.dynamodb.create_table(**definition, Tags=_tag_list(self._tags()))
                self.dynamodb.get_waiter("table_exists").wait(TableName=name)
                self._ensure_ttl(table, name)

            self._apply(create)
            self.report(CREATED, "table", name)
            return
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
        existing = {i["IndexName"] for i in description.get("GlobalSecondaryIndexes", [])}
        missing = [
            g
            for g in definition.get("GlobalSecondaryIndexes", [])
            if g["IndexName"] not in existing
        ]
        for spec in missing:

            def add_index(spec: dict[str, Any] = spec) -> None:
                self.dynamodb.update_table(
                    TableName=name,
                    AttributeDefinitions=definition["AttributeDefinitions"],
                    GlobalSecondaryIndexUpdates=[{"Create": spec}],
                )
                self.dynamodb.get_waiter("table_exists").wait(TableName=name)

            self._apply(add_index)
        changed = self._ensure_ttl(table, name) or bool(missing)
        self.report(UPDATED if changed else UNCHANGED, "table", name)

    def _ensure_ttl(self, table: Table, name: str) -> bool:
        if table.ttl_attribute is None:
            return False
        ttl = self.dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") and (
            ttl.get("AttributeName") == table.ttl_attribute
        ):
            return False
        self._apply(
            lambda: self.dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
            )
        )
        return True

    @staticmethod
    def _table_definition(table: Table, name: str) -> dict[str, Any]:
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
                {"AttributeName": a, "AttributeType": table.key_type(a)}
                for a in table.key_attributes
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

    # --- IAM -------------------------------------------------------------------

    def policy_document(self, account: str, api_id: str) -> dict[str, Any]:
        """Least privilege: these tables and indexes, this API's connections, own logs."""
        region = self.target.region
        tables = [
            f"arn:aws:dynamodb:{region}:{account}:table/{self.stack.table_name(t)}"
            for t in self.stack.tables
        ]
        logs = [
            f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{self.stack.function_name(f)}"
            for f in self.stack.all_functions
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
                "Resource": f"arn:aws:execute-api:{region}:{account}:{api_id}/"
                f"{self.stack.stage}/*/@connections/*",
            },
            {
                "Sid": "Logs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": logs + [f"{arn}:*" for arn in logs],
            },
        ]
        return {"Version": "2012-10-17", "Statement": statements}

    def ensure_role(self, account: str, api_id: str) -> str:
        name = self.stack.role_name
        action = UNCHANGED
        try:
            arn = str(self.iam.get_role(RoleName=name)["Role"]["Arn"])
            tags = self.iam.list_role_tags(RoleName=name).get("Tags", [])
            self._check_ours("role", name, {t["Key"]: t["Value"] for t in tags})
        except ClientError as exc:
            if error_code(exc) != "NoSuchEntity":
                raise

            def create() -> str:
                role = self.iam.create_role(
                    RoleName=name,
                    AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST_POLICY),
                    Description=f"Runs the {self.stack.name} Lambda functions",
                    Tags=_tag_list(self._tags()),
                )
                self.iam.get_waiter("role_exists").wait(RoleName=name)
                return str(role["Role"]["Arn"])

            arn = self._apply(create) or f"arn:aws:iam::{account}:role/{name}"
            action = CREATED
        wanted = self.policy_document(account, api_id)
        document = None
        if action != CREATED:
            try:
                current = self.iam.get_role_policy(RoleName=name, PolicyName=POLICY_NAME)
                document = current["PolicyDocument"]
                if isinstance(document, str):
                    document = json.loads(document)
            except ClientError as exc:
                if error_code(exc) != "NoSuchEntity":
                    raise
        if document != wanted:
            self._apply(
                lambda: self.iam.put_role_policy(
                    RoleName=name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(wanted)
                )
            )
            action = action if action == CREATED else UPDATED
        self.report(action, "role", name)
        return arn

    # --- functions ---------------------------------------------------------------

    def ensure_function(
        self, function: Function, role_arn: str, code: package.Package, api_id: str
    ) -> str:
        name = self.stack.function_name(function)
        variables = {
            key: value.replace(API_ID, api_id)
            for key, value in self.stack.environment(function).items()
        }
        wanted = {
            "Role": role_arn,
            "Handler": function.handler,
            "Runtime": function.runtime,
            "Timeout": function.timeout,
            "MemorySize": function.memory,
            "Environment": {"Variables": variables},
        }
        try:
            current = self.awslambda.get_function(FunctionName=name)
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise

            def create() -> str:
                created = retry(
                    lambda: self.awslambda.create_function(
                        FunctionName=name,
                        Code={"ZipFile": code.data},
                        Description=_describe(function),
                        Tags=self._tags(),
                        **wanted,
                    ),
                    role_not_yet_assumable,
                )
                self._wait_for_function("function_active_v2", name)
                return str(created["FunctionArn"])

            arn = self._apply(create)
            self.report(CREATED, "function", name)
            region, account = self.target.region, role_arn.split(":")[4]
            return arn or f"arn:aws:lambda:{region}:{account}:function:{name}"
        self._check_ours("function", name, current.get("Tags"))
        configuration = current["Configuration"]
        have = {key: configuration.get(key) for key in wanted}
        have["Environment"] = {
            "Variables": (configuration.get("Environment") or {}).get("Variables", {})
        }
        code_differs = configuration.get("CodeSha256") != code.sha256
        if self._cannot_run(configuration) and (code_differs or have != wanted):
            raise DeployError(
                f"LocalStack failed to start function {name} (its Lambda needs Docker) and "
                "refuses to update or delete it since: restart LocalStack (its state is in "
                "memory); `make localstack-up` starts one whose Lambda keeps functions "
                "without Docker"
            )
        action = UNCHANGED
        if code_differs:

            def update_code() -> None:
                self.awslambda.update_function_code(FunctionName=name, ZipFile=code.data)
                self._wait_for_function("function_updated_v2", name)

            self._apply(update_code)
            action = UPDATED
        if have != wanted:

            def update_configuration() -> None:
                self.awslambda.update_function_configuration(FunctionName=name, **wanted)
                self._wait_for_function("function_updated_v2", name)

            self._apply(update_configuration)
            action = UPDATED
        self.report(action, "function", name)
        return str(configuration["FunctionArn"])

    def _cannot_run(self, configuration: dict[str, Any]) -> bool:
        """A function LocalStack failed to start (its own Lambda runs them only with Docker)."""
        failed = self.target.name == "localstack" and configuration.get("State") == "Failed"
        if failed and self.target_runs_functions:
            self.target_runs_functions = False
            reason = str(configuration.get("StateReason"))
            self.report.note(
                f"LocalStack could not start the functions ({reason:.80}; its Lambda needs "
                "Docker): it keeps their configuration and code only"
            )
        return failed

    def _wait_for_function(self, waiter: str, name: str) -> None:
        try:
            self.awslambda.get_waiter(waiter).wait(FunctionName=name)
        except WaiterError as exc:
            configuration = (exc.last_response or {}).get("Configuration") or {}
            if not self._cannot_run(configuration):
                raise

    def ensure_permission(self, function: Function, account: str, api_id: str) -> None:
        name = self.stack.function_name(function)
        statement_id = f"apigateway-{api_id}"
        sids: set[str] = set()
        if api_id != NEW:
            try:
                policy = json.loads(self.awslambda.get_policy(FunctionName=name)["Policy"])
                sids = {s.get("Sid") for s in policy.get("Statement", [])}
            except ClientError as exc:
                if error_code(exc) != "ResourceNotFoundException":
                    raise
        if statement_id in sids:
            self.report(UNCHANGED, "permission", name)
            return
        self._apply(
            lambda: self.awslambda.add_permission(
                FunctionName=name,
                StatementId=statement_id,
                Action="lambda:InvokeFunction",
                Principal="apigateway.amazonaws.com",
                SourceArn=f"arn:aws:execute-api:{self.target.region}:{account}:{api_id}/*",
            )
        )
        self.report(CREATED, "permission", name)

    # --- the WebSocket API ---------------------------------------------------------

    def find_api(self) -> dict[str, Any] | None:
        for api in _pages(self.apigw, "get_apis", "Items"):
            if api["Name"] == self.stack.api_name and api["ProtocolType"] == "WEBSOCKET":
                return api
        return None

    def ensure_api(self) -> tuple[str, str]:
        name = self.stack.api_name
        api = self.find_api()
        if api is None:
            created = self._apply(
                lambda: self.apigw.create_api(
                    Name=name,
                    ProtocolType="WEBSOCKET",
                    RouteSelectionExpression=self.stack.route_selection_expression,
                    Tags=self._tags(),
                )
            )
            self.report(CREATED, "websocket api", name)
            if created is None:
                return NEW, f"wss://{NEW}.execute-api.{self.target.region}.amazonaws.com"
            return str(created["ApiId"]), str(created["ApiEndpoint"])
        self._check_ours("websocket api", name, api.get("Tags"))
        expression = self.stack.route_selection_expression
        if api.get("RouteSelectionExpression") != expression:
            self._apply(
                lambda: self.apigw.update_api(
                    ApiId=api["ApiId"], RouteSelectionExpression=expression
                )
            )
            self.report(UPDATED, "websocket api", name)
        else:
            self.report(UNCHANGED, "websocket api", name)
        return str(api["ApiId"]), str(api["ApiEndpoint"])

    def _integration_uri(self, function_arn: str) -> str:
        return (
            f"arn:aws:apigateway:{self.target.region}:lambda:path/2015-03-31/functions/"
            f"{function_arn}/invocations"
        )

    def ensure_authorizer(self, api_id: str, arns: dict[str, str]) -> str | None:
        spec = self.stack.authorizer
        if spec is None:
            return None
        uri = self._integration_uri(arns[self.stack.function_name(spec.function)])
        wanted = {
            "AuthorizerType": "REQUEST",
            "AuthorizerUri": uri,
            "IdentitySource": list(spec.identity_sources),
        }
        existing = None
        if api_id != NEW:
            # Found through the $connect route that uses it (moto has no GetAuthorizers).
            connect_route = next(
                (
                    r
                    for r in _pages(self.apigw, "get_routes", "Items", ApiId=api_id)
                    if r["RouteKey"] == "$connect" and r.get("AuthorizerId")
                ),
                None,
            )
            if connect_route is not None:
                found = self.apigw.get_authorizer(
                    ApiId=api_id, AuthorizerId=connect_route["AuthorizerId"]
                )
                existing = found if found.get("Name") == spec.name else None
        if existing is None:
            created = self._apply(
                lambda: self.apigw.create_authorizer(ApiId=api_id, Name=spec.name, **wanted)
            )
            self.report(CREATED, "authorizer", spec.name)
            return str(created["AuthorizerId"]) if created else NEW
        if {k: existing.get(k) for k in wanted} != wanted:
            self._apply(
                lambda: self.apigw.update_authorizer(
                    ApiId=api_id, AuthorizerId=existing["AuthorizerId"], **wanted
                )
            )
            self.report(UPDATED, "authorizer", spec.name)
        else:
            self.report(UNCHANGED, "authorizer", spec.name)
        return str(existing["AuthorizerId"])

    def ensure_routes(
        self, api_id: str, arns: dict[str, str], authorizer_id: str | None = None
    ) -> None:
        known = api_id != NEW
        integrations = {
            str(i.get("IntegrationUri")): i
            for i in (
                _pages(self.apigw, "get_integrations", "Items", ApiId=api_id) if known else []
            )
        }
        routes = {
            r["RouteKey"]: r
            for r in (_pages(self.apigw, "get_routes", "Items", ApiId=api_id) if known else [])
        }
        for route_key, (function, spec) in self.stack.route_function().items():
            uri = self._integration_uri(arns[self.stack.function_name(function)])
            integration_id = self._ensure_integration(
                api_id, integrations, uri, spec.content_handling, route_key
            )
            wanted: dict[str, Any] = {"Target": f"integrations/{integration_id}"}
            if route_key == "$connect" and authorizer_id is not None:
                wanted |= {"AuthorizationType": "CUSTOM", "AuthorizerId": authorizer_id}
            if spec.two_way:
                wanted["RouteResponseSelectionExpression"] = "$default"
            route = routes.pop(route_key, None)
            if route is None:
                created_route = self._apply(
                    partial(self.apigw.create_route, ApiId=api_id, RouteKey=route_key, **wanted)
                )
                route_id = str(created_route["RouteId"]) if created_route else NEW
                self.report(CREATED, "route", route_key)
                becomes_two_way = spec.two_way
            else:
                route_id = route["RouteId"]
                becomes_two_way = spec.two_way and not route.get("RouteResponseSelectionExpression")
                if {k: route.get(k) for k in wanted} != wanted:
                    self._apply(
                        partial(self.apigw.update_route, ApiId=api_id, RouteId=route_id, **wanted)
                    )
                    self.report(UPDATED, "route", route_key)
                else:
                    self.report(UNCHANGED, "route", route_key)
            if becomes_two_way:
                # Created with the expression that makes it two-way, so no listing is needed
                # to know whether it exists (moto has no GetRouteResponses).
                self._apply(
                    partial(
                        self.apigw.create_route_response,
                        ApiId=api_id,
                        RouteId=route_id,
                        RouteResponseKey="$default",
                    )
                )
                self.report(CREATED, "route response", route_key)
        for route_key, route in routes.items():
            # Our API: a route no longer in the stack description goes.
            self._apply(partial(self.apigw.delete_route, ApiId=api_id, RouteId=route["RouteId"]))
            self.report(DELETED, "route", route_key)

    def _ensure_integration(
        self,
        api_id: str,
        integrations: dict[str, dict[str, Any]],
        uri: str,
        content_handling: str | None,
        route_key: str,
    ) -> str:
        """The Lambda proxy integration of a function, shared by the routes it serves."""
        integration = integrations.get(uri)
        if integration is None:
            options = {"ContentHandlingStrategy": content_handling} if content_handling else {}
            created = self._apply(
                partial(
                    self.apigw.create_integration,
                    ApiId=api_id,
                    IntegrationType="AWS_PROXY",
                    IntegrationMethod="POST",
                    IntegrationUri=uri,
                    **options,
                )
            )
            integration = {
                "IntegrationId": str(created["IntegrationId"]) if created else NEW,
                "ContentHandlingStrategy": content_handling,
            }
            integrations[uri] = integration
            self.report(CREATED, "integration", route_key)
        elif integration.get("ContentHandlingStrategy") != content_handling and content_handling:
            self._apply(
                partial(
                    self.apigw.update_integration,
                    ApiId=api_id,
                    IntegrationId=integration["IntegrationId"],
                    ContentHandlingStrategy=content_handling,
                )
            )
            integration["ContentHandlingStrategy"] = content_handling
            self.report(UPDATED, "integration", route_key)
        return str(integration["IntegrationId"])

    def stage_settings(self) -> dict[str, Any]:
        """The stage as the stack wants it: auto-deployed, with its throttling."""
        wanted: dict[str, Any] = {"AutoDeploy": True}
        if self.stack.throttle is not None:
            wanted["DefaultRouteSettings"] = self.stack.throttle.settings()
        routes = {
            key: spec.throttle.settings()
            for key, (_, spec) in self.stack.route_function().items()
            if spec.throttle is not None
        }
        if routes:
            wanted["RouteSettings"] = routes
        return wanted

    def ensure_stage(self, api_id: str) -> None:
        stage = self.stack.stage
        current = None
        if api_id != NEW:
            try:
                current = self.apigw.get_stage(ApiId=api_id, StageName=stage)
            except ClientError as exc:
                if error_code(exc) != "NotFoundException":
                    raise
        # AutoDeploy: every route change goes live without a separate deployment.
        wanted = self.stage_settings()
        if current is None:
            self._apply(lambda: self.apigw.create_stage(ApiId=api_id, StageName=stage, **wanted))
            self.report(CREATED, "stage", stage)
        elif _stage_differs(current, wanted):
            self._apply(lambda: self._update_stage(api_id, stage, wanted))
            self.report(UPDATED, "stage", stage)
        else:
            self.report(UNCHANGED, "stage", stage)

    def _update_stage(self, api_id: str, stage: str, wanted: dict[str, Any]) -> None:
        if self.apigw_is_moto:
            # moto has no UpdateStage (it answers 500): its stage is replaced instead, which
            # AWS's never needs. The API, its routes and the gateway's sockets stay.
            self.apigw.delete_stage(ApiId=api_id, StageName=stage)
            self.apigw.create_stage(ApiId=api_id, StageName=stage, **wanted)
            return
        changes = {"RouteSettings": {}, "DefaultRouteSettings": {}} | wanted
        self.apigw.update_stage(ApiId=api_id, StageName=stage, **changes)

    # --- website -----------------------------------------------------------------

    def ensure_bucket(self, bucket: str, website: Website | None = None) -> bool:
        """A bucket; for a website, with hosting and public reads of its files. True if new."""
        try:
            self.s3.head_bucket(Bucket=bucket)
        except ClientError as exc:
            if error_code(exc) in ("403", "AccessDenied"):
                raise DeployError(
                    f"bucket {bucket} belongs to another account: choose another --prefix"
                ) from exc
            if error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                raise
            self._apply(lambda: self._create_bucket(bucket, website))
            self.report(CREATED, "bucket", bucket)
            return True
        try:
            tags = self.s3.get_bucket_tagging(Bucket=bucket).get("TagSet", [])
        except ClientError as exc:
            if error_code(exc) != "NoSuchTagSet":
                raise
            tags = []
        self._check_ours("bucket", bucket, {t["Key"]: t["Value"] for t in tags})
        action = UNCHANGED
        if website is None:
            self.report(action, "bucket", bucket)
            return False
        try:
            current = self.s3.get_bucket_website(Bucket=bucket)
            have = {"IndexDocument": current.get("IndexDocument")}
        except ClientError as exc:
            if error_code(exc) != "NoSuchWebsiteConfiguration":
                raise
            have = {}
        if have != WEBSITE:
            self._apply(
                lambda: self.s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration=WEBSITE)
            )
            action = UPDATED
        try:
            current_policy = json.loads(self.s3.get_bucket_policy(Bucket=bucket)["Policy"])
        except ClientError as exc:
            if error_code(exc) != "NoSuchBucketPolicy":
                raise
            current_policy = None
        if current_policy != bucket_policy(bucket, website.keys):
            self._apply(lambda: self._open_for_reading(bucket, website))
            action = UPDATED
        self.report(action, "bucket", bucket)
        return False

    def _create_bucket(self, bucket: str, website: Website | None) -> None:
        options: dict[str, Any] = {}
        if self.target.region != "us-east-1":
            options["CreateBucketConfiguration"] = {"LocationConstraint": self.target.region}
        try:
            self.s3.create_bucket(Bucket=bucket, **options)
        except ClientError as exc:
            if error_code(exc) == "BucketAlreadyExists":
                raise DeployError(
                    f"bucket name {bucket} is taken by another account: choose another --prefix"
                ) from exc
            raise
        self.s3.get_waiter("bucket_exists").wait(Bucket=bucket)
        self.s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": _tag_list(self._tags())})
        if website is not None:
            self.s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration=WEBSITE)
            self._open_for_reading(bucket, website)

    def _open_for_reading(self, bucket: str, website: Website) -> None:
        self.s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": False,
                "RestrictPublicBuckets": False,
            },
        )
        self.s3.put_bucket_policy(
            Bucket=bucket, Policy=json.dumps(bucket_policy(bucket, website.keys))
        )

    def ensure_client(
        self, website: Website, bucket: str, websocket_url: str, bucket_is_new: bool
    ) -> None:
        types = dict(website.files)
        files = {key: (website.directory / key).read_bytes() for key in types}
        files[website.config_file] = client_config(website, websocket_url)
        for key, body in files.items():
            content_type = types.get(key, "text/javascript; charset=utf-8")
            cache = CACHE_HTML if key in ("index.html", website.config_file) else CACHE_ASSETS
            etag = f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'
            action = CREATED
            if not bucket_is_new:
                try:
                    head = self.s3.head_object(Bucket=bucket, Key=key)
                    same = (
                        head.get("ETag") == etag
                        and head.get("ContentType") == content_type
                        and head.get("CacheControl") == cache
                    )
                    action = UNCHANGED if same else UPDATED
                except ClientError as exc:
                    if error_code(exc) not in ("404", "NoSuchKey", "NotFound"):
                        raise
            if action != UNCHANGED:
                self._apply(
                    partial(
                        self.s3.put_object,
                        Bucket=bucket,
                        Key=key,
                        Body=body,
                        ContentType=content_type,
                        CacheControl=cache,
                    )
                )
            self.report(action, "client file", key)


WEBSITE = {"IndexDocument": {"Suffix": "index.html"}}


def bucket_policy(bucket: str, keys: list[str]) -> dict[str, Any]:
    """Public reads of the website's files only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PublicReadOfTheClient",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": [f"arn:aws:s3:::{bucket}/{key}" for key in keys],
            }
        ],
    }


def client_config(website: Website, websocket_url: str) -> bytes:
    """The client's configuration, written at deploy so nobody edits the client's code."""
    config = json.dumps({"websocketUrl": websocket_url})
    return f"window.{website.config_global} = {config};\n".encode()


_THROTTLE_KEYS = ("ThrottlingBurstLimit", "ThrottlingRateLimit")


def _throttle_of(settings: Any) -> tuple[Any, ...]:
    settings = settings or {}
    return tuple(settings.get(key) for key in _THROTTLE_KEYS)


def _stage_differs(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether AutoDeploy or any throttling differs (other settings are AWS's own)."""
    if not current.get("AutoDeploy"):
        return True
    if _throttle_of(current.get("DefaultRouteSettings")) != _throttle_of(
        wanted.get("DefaultRouteSettings")
    ):
        return True
    have = {k: _throttle_of(v) for k, v in (current.get("RouteSettings") or {}).items()}
    want = {k: _throttle_of(v) for k, v in (wanted.get("RouteSettings") or {}).items()}
    have = {k: v for k, v in have.items() if v != (None, None)}
    return have != want


def _describe(function: Function) -> str:
    routes = ", ".join(r.key for r in function.routes)
    return f"serves {routes}" if routes else "authorizer"


def _schema_text(schema: list[dict[str, str]], types: dict[str, str]) -> str:
    return " + ".join(f"{k['AttributeName']} {types.get(k['AttributeName'], '?')}" for k in schema)


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(key, [])

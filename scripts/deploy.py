"""Create or update every resource of the stack, idempotently, on any target.

Each ``ensure_*`` step looks the resource up, creates it when missing, updates it
when it differs from :mod:`scripts.stack`, and reports ``created``, ``updated`` or
``unchanged``. A second run against an up-to-date stack makes no write call at all.

    python -m scripts.deploy --target aws --region eu-west-1
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import ClientError

from scripts import package
from scripts.stack import (
    CLIENT_CONFIG_KEY,
    FRONTEND_DIR,
    FRONTEND_FILES,
    ROUTE_SELECTION_EXPRESSION,
    RUNTIME,
    Function,
    Stack,
    Table,
)
from scripts.targets import Target, TargetError

CREATED, UPDATED, UNCHANGED, DELETED = "created", "updated", "unchanged", "deleted"
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


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@dataclass
class Report:
    """What each step did, printed as it happens."""

    out: TextIO = sys.stdout
    steps: list[tuple[str, str, str]] = field(default_factory=list)

    def __call__(self, action: str, kind: str, name: str) -> None:
        self.steps.append((action, kind, name))
        print(f"  {action:<9} {kind:<16} {name}", file=self.out, flush=True)

    @property
    def changes(self) -> list[tuple[str, str, str]]:
        return [s for s in self.steps if s[0] != UNCHANGED]


@dataclass(frozen=True)
class Outputs:
    """What a deploy leaves for the emulator, the tests and the client."""

    target: str
    region: str
    endpoint_url: str | None
    api_id: str
    stage: str
    websocket_url: str
    website_url: str
    bucket: str
    functions: dict[str, str]
    tables: dict[str, str]
    package_sha256: str
    package_path: str

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.__dict__, indent=2) + "\n")

    @classmethod
    def read(cls, path: Path) -> Outputs:
        return cls(**json.loads(path.read_text()))


class Deployer:
    """Brings one target in line with one :class:`Stack`."""

    def __init__(self, stack: Stack, target: Target, report: Report | None = None) -> None:
        self.stack = stack
        self.target = target
        self.report = report or Report()
        self.dynamodb = target.client("dynamodb")
        self.iam = target.client("iam")
        self.awslambda = target.client("lambda")
        self.apigw = target.client("apigatewayv2")
        self.s3 = target.client("s3")
        self.sts = target.client("sts")

    # --- the whole stack -------------------------------------------------------

    def deploy(self, websocket_url: str | None = None) -> Outputs:
        """Create or update everything; ``websocket_url`` overrides the API's own."""
        stack = self.stack
        account = self.target.account_id()
        code = package.build()
        for table in stack.tables:
            self.ensure_table(table)
        api_id, api_endpoint = self.ensure_api()
        role_arn = self.ensure_role(account, api_id)
        function_arns: dict[str, str] = {}
        for function in stack.functions:
            function_arns[function.route_key] = self.ensure_function(function, role_arn, code)
        self.ensure_routes(api_id, function_arns)
        for function in stack.functions:
            self.ensure_permission(function, account, api_id)
        self.ensure_stage(api_id)
        websocket_url = websocket_url or f"{api_endpoint}/{stack.stage}"
        bucket = stack.bucket_name(account)
        self.ensure_bucket(bucket)
        self.ensure_client(bucket, websocket_url)
        return Outputs(
            target=self.target.name,
            region=self.target.region,
            endpoint_url=self.target.endpoint_url,
            api_id=api_id,
            stage=stack.stage,
            websocket_url=websocket_url,
            website_url=self.website_url(bucket),
            bucket=bucket,
            functions={f.route_key: stack.function_name(f) for f in stack.functions},
            tables={t.env_var: stack.table_name(t) for t in stack.tables},
            package_sha256=code.sha256,
            package_path=str(code.path),
        )

    def website_url(self, bucket: str) -> str:
        if self.target.emulated:
            return f"{self.target.endpoint_url}/{bucket}/index.html"
        return f"http://{bucket}.s3-website-{self.target.region}.amazonaws.com"

    # --- tables ------------------------------------------------------------------

    def ensure_table(self, table: Table) -> None:
        name = self.stack.table_name(table)
        try:
            description = self.dynamodb.describe_table(TableName=name)["Table"]
        except ClientError as exc:
            if _error_code(exc) != "ResourceNotFoundException":
                raise
            self.dynamodb.create_table(**self._table_definition(table, name))
            self.dynamodb.get_waiter("table_exists").wait(TableName=name)
            self.report(CREATED, "table", name)
            self._ensure_ttl(table, name, quiet=True)
            return
        existing = {i["IndexName"] for i in description.get("GlobalSecondaryIndexes", [])}
        missing = [i for i in table.indexes if i.name not in existing]
        definition = self._table_definition(table, name)
        for index in missing:
            spec = next(
                g for g in definition["GlobalSecondaryIndexes"] if g["IndexName"] == index.name
            )
            self.dynamodb.update_table(
                TableName=name,
                AttributeDefinitions=definition["AttributeDefinitions"],
                GlobalSecondaryIndexUpdates=[{"Create": spec}],
            )
            self.dynamodb.get_waiter("table_exists").wait(TableName=name)
        changed = self._ensure_ttl(table, name, quiet=False) or bool(missing)
        self.report(UPDATED if changed else UNCHANGED, "table", name)

    def _ensure_ttl(self, table: Table, name: str, *, quiet: bool) -> bool:
        if table.ttl_attribute is None:
            return False
        ttl = self.dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") and (
            ttl.get("AttributeName") == table.ttl_attribute
        ):
            return False
        self.dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
        )
        return True

    @staticmethod
    def _table_definition(table: Table, name: str) -> dict[str, Any]:
        keys = [table.hash_key, table.range_key]
        for index in table.indexes:
            keys += [index.hash_key, index.range_key]
        attributes = sorted({k for k in keys if k})

        def schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
            out = [{"AttributeName": hash_key, "KeyType": "HASH"}]
            if range_key:
                out.append({"AttributeName": range_key, "KeyType": "RANGE"})
            return out

        definition: dict[str, Any] = {
            "TableName": name,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [
                {"AttributeName": a, "AttributeType": "S"} for a in attributes
            ],
            "KeySchema": schema(table.hash_key, table.range_key),
            "SSESpecification": {"Enabled": True},
        }
        if table.indexes:
            definition["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": i.name,
                    "KeySchema": schema(i.hash_key, i.range_key),
                    "Projection": {"ProjectionType": "ALL"},
                }
                for i in table.indexes
            ]
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
            for f in self.stack.functions
        ]
        return {
            "Version": "2012-10-17",
            "Statement": [
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
                },
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
            ],
        }

    def ensure_role(self, account: str, api_id: str) -> str:
        name = self.stack.role_name
        action = UNCHANGED
        try:
            arn = str(self.iam.get_role(RoleName=name)["Role"]["Arn"])
        except ClientError as exc:
            if _error_code(exc) != "NoSuchEntity":
                raise
            arn = str(
                self.iam.create_role(
                    RoleName=name,
                    AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST_POLICY),
                    Description="Runs the chat's Lambda functions",
                )["Role"]["Arn"]
            )
            self.iam.get_waiter("role_exists").wait(RoleName=name)
            action = CREATED
        wanted = self.policy_document(account, api_id)
        try:
            current = self.iam.get_role_policy(RoleName=name, PolicyName=POLICY_NAME)
            document = current["PolicyDocument"]
            if isinstance(document, str):
                document = json.loads(document)
        except ClientError as exc:
            if _error_code(exc) != "NoSuchEntity":
                raise
            document = None
        if document != wanted:
            self.iam.put_role_policy(
                RoleName=name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(wanted)
            )
            action = action if action == CREATED else UPDATED
        self.report(action, "role", name)
        return arn

    # --- functions ---------------------------------------------------------------

    def ensure_function(self, function: Function, role_arn: str, code: package.Package) -> str:
        name = self.stack.function_name(function)
        wanted = {
            "Role": role_arn,
            "Handler": function.handler,
            "Runtime": RUNTIME,
            "Timeout": function.timeout,
            "MemorySize": function.memory,
            "Environment": {"Variables": self.stack.environment()},
        }
        try:
            current = self.awslambda.get_function_configuration(FunctionName=name)
        except ClientError as exc:
            if _error_code(exc) != "ResourceNotFoundException":
                raise
            created = self.awslambda.create_function(
                FunctionName=name,
                Code={"ZipFile": code.data},
                Description=f"chat route {function.route_key}",
                **wanted,
            )
            self.awslambda.get_waiter("function_active_v2").wait(FunctionName=name)
            self.report(CREATED, "function", name)
            return str(created["FunctionArn"])
        action = UNCHANGED
        if current.get("CodeSha256") != code.sha256:
            self.awslambda.update_function_code(FunctionName=name, ZipFile=code.data)
            self.awslambda.get_waiter("function_updated_v2").wait(FunctionName=name)
            action = UPDATED
        have = {key: current.get(key) for key in wanted}
        have["Environment"] = {"Variables": (current.get("Environment") or {}).get("Variables", {})}
        if have != wanted:
            self.awslambda.update_function_configuration(FunctionName=name, **wanted)
            self.awslambda.get_waiter("function_updated_v2").wait(FunctionName=name)
            action = UPDATED
        self.report(action, "function", name)
        return str(current["FunctionArn"])

    def ensure_permission(self, function: Function, account: str, api_id: str) -> None:
        name = self.stack.function_name(function)
        statement_id = f"apigateway-{api_id}"
        source_arn = f"arn:aws:execute-api:{self.target.region}:{account}:{api_id}/*"
        try:
            policy = json.loads(self.awslambda.get_policy(FunctionName=name)["Policy"])
            sids = {s.get("Sid") for s in policy.get("Statement", [])}
        except ClientError as exc:
            if _error_code(exc) != "ResourceNotFoundException":
                raise
            sids = set()
        if statement_id in sids:
            self.report(UNCHANGED, "permission", name)
            return
        self.awslambda.add_permission(
            FunctionName=name,
            StatementId=statement_id,
            Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
            SourceArn=source_arn,
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
            api = self.apigw.create_api(
                Name=name,
                ProtocolType="WEBSOCKET",
                RouteSelectionExpression=ROUTE_SELECTION_EXPRESSION,
            )
            self.report(CREATED, "websocket api", name)
        elif api.get("RouteSelectionExpression") != ROUTE_SELECTION_EXPRESSION:
            self.apigw.update_api(
                ApiId=api["ApiId"], RouteSelectionExpression=ROUTE_SELECTION_EXPRESSION
            )
            self.report(UPDATED, "websocket api", name)
        else:
            self.report(UNCHANGED, "websocket api", name)
        return str(api["ApiId"]), str(api["ApiEndpoint"])

    def ensure_routes(self, api_id: str, function_arns: dict[str, str]) -> None:
        integrations = {
            i.get("IntegrationUri"): i["IntegrationId"]
            for i in _pages(self.apigw, "get_integrations", "Items", ApiId=api_id)
        }
        routes = {r["RouteKey"]: r for r in _pages(self.apigw, "get_routes", "Items", ApiId=api_id)}
        for route_key, function_arn in function_arns.items():
            uri = (
                f"arn:aws:apigateway:{self.target.region}:lambda:path/2015-03-31/functions/"
                f"{function_arn}/invocations"
            )
            integration_id = integrations.get(uri)
            if integration_id is None:
                integration_id = self.apigw.create_integration(
                    ApiId=api_id,
                    IntegrationType="AWS_PROXY",
                    IntegrationMethod="POST",
                    IntegrationUri=uri,
                )["IntegrationId"]
                integrations[uri] = integration_id
                self.report(CREATED, "integration", route_key)
            target = f"integrations/{integration_id}"
            route = routes.pop(route_key, None)
            if route is None:
                self.apigw.create_route(ApiId=api_id, RouteKey=route_key, Target=target)
                self.report(CREATED, "route", route_key)
            elif route.get("Target") != target:
                self.apigw.update_route(ApiId=api_id, RouteId=route["RouteId"], Target=target)
                self.report(UPDATED, "route", route_key)
            else:
                self.report(UNCHANGED, "route", route_key)
        for route_key, route in routes.items():
            # Our API: a route no longer in the stack description goes.
            self.apigw.delete_route(ApiId=api_id, RouteId=route["RouteId"])
            self.report(DELETED, "route", route_key)

    def ensure_stage(self, api_id: str) -> None:
        stage = self.stack.stage
        try:
            current = self.apigw.get_stage(ApiId=api_id, StageName=stage)
        except ClientError as exc:
            if _error_code(exc) != "NotFoundException":
                raise
            # AutoDeploy: every route change goes live without a separate deployment.
            self.apigw.create_stage(ApiId=api_id, StageName=stage, AutoDeploy=True)
            self.report(CREATED, "stage", stage)
            return
        if not current.get("AutoDeploy"):
            self.apigw.update_stage(ApiId=api_id, StageName=stage, AutoDeploy=True)
            self.report(UPDATED, "stage", stage)
        else:
            self.report(UNCHANGED, "stage", stage)

    # --- website -----------------------------------------------------------------

    def ensure_bucket(self, bucket: str) -> None:
        action = UNCHANGED
        try:
            self.s3.head_bucket(Bucket=bucket)
        except ClientError as exc:
            if _error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                raise
            options: dict[str, Any] = {}
            if self.target.region != "us-east-1":
                options["CreateBucketConfiguration"] = {"LocationConstraint": self.target.region}
            self.s3.create_bucket(Bucket=bucket, **options)
            self.s3.get_waiter("bucket_exists").wait(Bucket=bucket)
            action = CREATED
        website = {"IndexDocument": {"Suffix": "index.html"}}
        try:
            current = self.s3.get_bucket_website(Bucket=bucket)
            have = {"IndexDocument": current.get("IndexDocument")}
        except ClientError as exc:
            if _error_code(exc) != "NoSuchWebsiteConfiguration":
                raise
            have = {}
        if have != website:
            self.s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration=website)
            action = action if action == CREATED else UPDATED
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PublicReadOfTheClient",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": [
                        f"arn:aws:s3:::{bucket}/{key}"
                        for key in [*FRONTEND_FILES, CLIENT_CONFIG_KEY]
                    ],
                }
            ],
        }
        try:
            current_policy = json.loads(self.s3.get_bucket_policy(Bucket=bucket)["Policy"])
        except ClientError as exc:
            if _error_code(exc) != "NoSuchBucketPolicy":
                raise
            current_policy = None
        if current_policy != policy:
            self.s3.put_public_access_block(
                Bucket=bucket,
                PublicAccessBlockConfiguration={
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": False,
                    "RestrictPublicBuckets": False,
                },
            )
            self.s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
            action = action if action == CREATED else UPDATED
        self.report(action, "bucket", bucket)

    def ensure_client(self, bucket: str, websocket_url: str) -> None:
        files = {key: (FRONTEND_DIR / key).read_bytes() for key in FRONTEND_FILES}
        files[CLIENT_CONFIG_KEY] = client_config(websocket_url)
        for key, body in files.items():
            content_type = FRONTEND_FILES.get(key, "text/javascript; charset=utf-8")
            cache = CACHE_HTML if key in ("index.html", CLIENT_CONFIG_KEY) else CACHE_ASSETS
            etag = f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'
            try:
                head = self.s3.head_object(Bucket=bucket, Key=key)
                same = (
                    head.get("ETag") == etag
                    and head.get("ContentType") == content_type
                    and head.get("CacheControl") == cache
                )
                action = UNCHANGED if same else UPDATED
            except ClientError as exc:
                if _error_code(exc) not in ("404", "NoSuchKey", "NotFound"):
                    raise
                action = CREATED
            if action != UNCHANGED:
                self.s3.put_object(
                    Bucket=bucket, Key=key, Body=body, ContentType=content_type, CacheControl=cache
                )
            self.report(action, "client file", key)


def client_config(websocket_url: str) -> bytes:
    """The client's configuration, written at deploy so nobody edits app.js."""
    return f"window.CHAT_CONFIG = {json.dumps({'websocketUrl': websocket_url})};\n".encode()


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(key, [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=["localstack", "aws"], required=True)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--prefix", default="")
    parser.add_argument("--stage", default="prod")
    args = parser.parse_args(argv)
    stack = Stack(prefix=args.prefix, stage=args.stage, region=args.region)
    target = (
        Target.localstack(args.region) if args.target == "localstack" else Target.aws(args.region)
    )
    print(f"Deploying the chat to {target.name} ({target.region})")
    try:
        outputs = Deployer(stack, target).deploy()
    except TargetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    outputs.write(stack.outputs_path(target.name))
    print(f"\nWebSocket URL: {outputs.websocket_url}\nWebsite URL:   {outputs.website_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

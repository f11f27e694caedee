"""Remove everything deploy created for one stack, in dependency order; safe to repeat.

Each step reports ``deleted`` or ``absent``. Only resources the stack names, for its
prefix, are touched. The chat's command line is ``scripts/destroy.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from botocore.exceptions import ClientError

from emulator.deploy import POLICY_NAME, Deployer, error_code

DELETED, ABSENT = "deleted", "absent"


class Destroyer(Deployer):
    """Undoes :meth:`Deployer.deploy`; reuses its clients and look-ups."""

    def destroy(self) -> None:
        stack = self.stack
        account = self.target.account_id()
        if stack.website is not None:
            self.remove_bucket(stack.website_bucket(account))
        for bucket in stack.buckets:
            self.remove_bucket(stack.bucket(bucket))
        self.remove_api()
        for function in stack.all_functions:
            name = stack.function_name(function)
            self._absent_ok(
                "function", name, partial(self.awslambda.delete_function, FunctionName=name)
            )
        self.remove_role()
        for table in stack.tables:
            name = stack.table_name(table)
            if self._absent_ok("table", name, partial(self.dynamodb.delete_table, TableName=name)):
                self.dynamodb.get_waiter("table_not_exists").wait(TableName=name)

    def remove_api(self) -> None:
        name = self.stack.api_name
        if (
            self.target.name == "localstack"
            and self.target.api_home is None
            and not self.target.has_websocket_apis()
        ):
            # Without API Gateway v2 in LocalStack, `make localstack` kept the API in its
            # embedded control plane, which went when it stopped.
            self.report(ABSENT, "websocket api", f"{name} (went with `make localstack`)")
            return
        api = self.find_api()
        if api is None:
            self.report(ABSENT, "websocket api", name)
            return
        # Routes, integrations and stages go with their API.
        self.apigw.delete_api(ApiId=api["ApiId"])
        self.report(DELETED, "websocket api", name)

    def remove_role(self) -> None:
        name = self.stack.role_name
        try:
            self.iam.delete_role_policy(RoleName=name, PolicyName=POLICY_NAME)
        except ClientError as exc:
            if error_code(exc) != "NoSuchEntity":
                raise
        self._absent_ok("role", name, lambda: self.iam.delete_role(RoleName=name))

    def remove_bucket(self, bucket: str) -> None:
        try:
            for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
                objects = [
                    {"Key": o["Key"], "VersionId": o["VersionId"]}
                    for o in page.get("Versions", []) + page.get("DeleteMarkers", [])
                ]
                if objects:
                    self.s3.delete_objects(Bucket=bucket, Delete={"Objects": objects})
        except ClientError as exc:
            if error_code(exc) != "NoSuchBucket":
                raise
        self._absent_ok("bucket", bucket, lambda: self.s3.delete_bucket(Bucket=bucket))

    def _absent_ok(self, kind: str, name: str, delete: Callable[[], object]) -> bool:
        """Run a delete; a resource that is already gone is fine. True when deleted."""
        try:
            delete()
        except ClientError as exc:
            code = error_code(exc)
            if code not in ("ResourceNotFoundException", "NoSuchEntity", "NoSuchBucket"):
                raise
            self.report(ABSENT, kind, name)
            return False
        self.report(DELETED, kind, name)
        return True

"""The behaviours themselves: what AWS does that moto doesn't, each documented by AWS.

Each is installed on an :class:`~tests.aws.behaviours.Aws` and lasts as long as it.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from tests.aws.behaviours import Aws, Interrupted, answer, is_write, now, refusal, wire_error


class ResponseHeadersPolicies:
    """CloudFront's response headers policies (moto has none), as AWS documents the API.

    Names are unique per account; updates and deletes need the current ETag (412
    PreconditionFailed otherwise); a policy a distribution uses can't be deleted (409).
    """

    def __init__(self, aws: Aws) -> None:
        self.policies: dict[str, dict[str, Any]] = aws.kept("response headers policies", dict)
        self.etags: dict[str, str] = aws.kept("response headers policies' etags", dict)
        self._cloudfront = aws.raw("cloudfront")
        aws.answers(self._answer)

    def _policy(self, policy_id: str) -> dict[str, Any]:
        return {
            "Id": policy_id,
            "LastModifiedTime": now(),
            "ResponseHeadersPolicyConfig": self.policies[policy_id],
        }

    def _answer(self, service: str, operation: str, params: dict[str, Any]) -> Any:
        if service != "cloudfront" or "ResponseHeadersPolic" not in operation:
            return None
        policy_id = params.get("Id", "")
        if operation == "ListResponseHeadersPolicies":
            items = [
                {"Type": "custom", "ResponseHeadersPolicy": self._policy(i)} for i in self.policies
            ]
            return answer(
                200,
                {
                    "ResponseHeadersPolicyList": {
                        "MaxItems": 100,
                        "Quantity": len(items),
                        "Items": items,
                    }
                },
            )
        if operation == "CreateResponseHeadersPolicy":
            config = params["ResponseHeadersPolicyConfig"]
            if any(p["Name"] == config["Name"] for p in self.policies.values()):
                return refusal(
                    "ResponseHeadersPolicyAlreadyExists",
                    "A response headers policy with this name already exists.",
                    409,
                )
            policy_id = f"rhp-{secrets.token_hex(6)}"
            self.policies[policy_id], self.etags[policy_id] = config, f"E{len(self.etags) + 1}"
            return answer(
                201,
                {"ResponseHeadersPolicy": self._policy(policy_id), "ETag": self.etags[policy_id]},
            )
        if policy_id not in self.policies:
            return refusal(
                "NoSuchResponseHeadersPolicy", "The response headers policy does not exist.", 404
            )
        if operation in ("GetResponseHeadersPolicy", "GetResponseHeadersPolicyConfig"):
            key = (
                "ResponseHeadersPolicy"
                if operation.endswith("Policy")
                else "ResponseHeadersPolicyConfig"
            )
            body = (
                self._policy(policy_id)
                if key == "ResponseHeadersPolicy"
                else self.policies[policy_id]
            )
            return answer(200, {key: body, "ETag": self.etags[policy_id]})
        if params.get("IfMatch") != self.etags[policy_id]:
            return refusal(
                "PreconditionFailed",
                "The precondition given in one or more of the request header fields "
                "evaluated to false.",
                412,
            )
        if operation == "UpdateResponseHeadersPolicy":
            self.policies[policy_id] = params["ResponseHeadersPolicyConfig"]
            self.etags[policy_id] += "x"
            return answer(
                200,
                {"ResponseHeadersPolicy": self._policy(policy_id), "ETag": self.etags[policy_id]},
            )
        if operation == "DeleteResponseHeadersPolicy":
            if self._in_use(policy_id):
                return refusal(
                    "ResponseHeadersPolicyInUse",
                    "Cannot delete the response headers policy because it is attached to "
                    "one or more cache behaviors.",
                    409,
                )
            del self.policies[policy_id]
            return answer(204, {})
        return None

    def _in_use(self, policy_id: str) -> bool:
        for item in self._cloudfront.list_distributions()["DistributionList"].get("Items") or []:
            behaviours = [
                item["DefaultCacheBehavior"],
                *(item.get("CacheBehaviors", {}).get("Items") or []),
            ]
            if any(b.get("ResponseHeadersPolicyId") == policy_id for b in behaviours):
                return True
        return False


class BudgetTags:
    """AWS Budgets' tags (moto keeps none): given at CreateBudget, read by ListTagsForResource."""

    def __init__(self, aws: Aws) -> None:
        self.tags: dict[str, list[dict[str, str]]] = aws.kept("budget tags", dict)
        aws.answers(self._answer)
        aws.sees(self._see)

    def _answer(self, service: str, operation: str, params: dict[str, Any]) -> Any:
        if service == "budgets" and operation == "ListTagsForResource":
            return answer(
                200, {"ResourceTags": self.tags.get(params["ResourceARN"].rpartition("/")[2], [])}
            )
        return None

    def _see(
        self, service: str, operation: str, params: dict[str, Any], parsed: dict[str, Any]
    ) -> None:
        if service != "budgets" or parsed.get("Error"):
            return
        if operation == "CreateBudget":
            self.tags[params["Budget"]["BudgetName"]] = params.get("ResourceTags", [])
        elif operation == "DeleteBudget":
            self.tags.pop(params["BudgetName"], None)


class BucketTagsAtCreation:
    """S3 tags a bucket created with CreateBucketConfiguration.Tags in that call (moto doesn't)."""

    def __init__(self, aws: Aws) -> None:
        self._s3 = aws.raw("s3")
        aws.sees(self._see)

    def _see(
        self, service: str, operation: str, params: dict[str, Any], parsed: dict[str, Any]
    ) -> None:
        tags = params.get("CreateBucketConfiguration", {}).get("Tags")
        if service == "s3" and operation == "CreateBucket" and tags and not parsed.get("Error"):
            self._s3.put_bucket_tagging(Bucket=params["Bucket"], Tagging={"TagSet": tags})


@dataclass
class Refuse:
    """The first ``times`` calls of an operation fail with AWS's error (through before-call)."""

    service: str
    operation: str
    code: str
    message: str
    status: int = 400
    times: int = 1
    when: Any = None  # a test on the call's parameters; None: every call
    refused: int = 0

    def install(self, aws: Aws) -> Refuse:
        aws.answers(self._answer)
        return self

    def _answer(self, service: str, operation: str, params: dict[str, Any]) -> Any:
        if (service, operation) != (self.service, self.operation) or self.refused >= self.times:
            return None
        if self.when is not None and not self.when(params):
            return None
        self.refused += 1
        return refusal(self.code, self.message.format(**params), self.status)


@dataclass
class Throttle:
    """The first ``times`` attempts of an operation are throttled on the wire (botocore retries)."""

    service_id: str  # botocore's hyphenated service id, e.g. "lambda", "dynamodb"
    operation: str
    code: str
    message: str = "Rate exceeded"
    times: int = 1
    throttled: int = 0

    def install(self, aws: Aws) -> Throttle:
        service = self.service_id.replace("cloudwatch-logs", "logs")
        protocol = aws.client(service).meta.service_model.protocol
        aws.sends(lambda service_id, operation: self._send(service_id, operation, protocol))
        return self

    def _send(self, service_id: str, operation: str, protocol: str) -> Any:
        if (service_id, operation) != (self.service_id, self.operation):
            return None
        if self.throttled >= self.times:
            return None
        self.throttled += 1
        status = 429 if protocol == "rest-json" else 400
        return wire_error(protocol, self.code, self.message, status)


class AccountBlocksPublicAccess:
    """Block Public Access set for the whole account (or organisation): a public bucket
    policy is refused with AccessDenied, whatever the bucket's own setting says."""

    def __init__(self, aws: Aws) -> None:
        self.account = aws.target.account_id()
        aws.answers(self._answer)

    def _answer(self, service: str, operation: str, params: dict[str, Any]) -> Any:
        if (service, operation) != ("s3", "PutBucketPolicy"):
            return None
        statements = json.loads(params["Policy"]).get("Statement", [])
        if any(s.get("Principal") in ("*", {"AWS": "*"}) for s in statements):
            bucket = params["Bucket"]
            return refusal(
                "AccessDenied",
                f"User: arn:aws:iam::{self.account}:user/deployer is not authorized to perform: "
                f's3:PutBucketPolicy on resource: "arn:aws:s3:::{bucket}" because public policies '
                "are blocked by the BlockPublicPolicy block public access setting.",
                403,
            )
        return None


class SlowStates:
    """What AWS does in its own time: tables being created, functions starting or being
    updated, distributions being deployed. For ``reads`` reads after each change the
    resource says it is still busy, and AWS refuses to change it meanwhile, with the
    errors its documentation names."""

    def __init__(self, aws: Aws, reads: int = 2) -> None:
        self.reads = reads
        self.tables: dict[str, int] = {}
        self.functions: dict[str, tuple[str, int]] = {}  # name -> (what is busy, reads left)
        self.distributions: dict[str, int] = {}
        self._cloudfront = aws.raw("cloudfront")
        aws.answers(self._answer)
        aws.sees(self._see)

    def _answer(self, service: str, operation: str, params: dict[str, Any]) -> Any:
        if service == "dynamodb" and operation in (
            "UpdateTable",
            "UpdateTimeToLive",
            "DeleteTable",
        ):
            name = params["TableName"]
            if self.tables.get(name, 0) > 0:
                return refusal(
                    "ResourceInUseException",
                    "Attempt to change a resource which is still in use: "
                    f"Table is being created: {name}",
                    400,
                )
        if service == "lambda" and operation in (
            "UpdateFunctionCode",
            "UpdateFunctionConfiguration",
        ):
            name = params["FunctionName"]
            busy, left = self.functions.get(name, ("", 0))
            if left > 0:
                state = (
                    "The function is currently in the following state: Pending"
                    if busy == "State"
                    else f"An update is in progress for resource: {name}"
                )
                return refusal(
                    "ResourceConflictException",
                    f"The operation cannot be performed at this time. {state}",
                    409,
                )
        if service == "cloudfront" and operation == "DeleteDistribution":
            distribution_id = params["Id"]
            config = self._cloudfront.get_distribution_config(Id=distribution_id)[
                "DistributionConfig"
            ]
            if self.distributions.get(distribution_id, 0) > 0 or config["Enabled"]:
                return refusal(
                    "DistributionNotDisabled",
                    "The distribution you are trying to delete has not been disabled.",
                    409,
                )
        return None

    def _see(
        self, service: str, operation: str, params: dict[str, Any], parsed: dict[str, Any]
    ) -> None:
        if parsed.get("Error"):
            return
        if service == "dynamodb":
            name = params.get("TableName", "")
            if operation in ("CreateTable", "UpdateTable"):
                self.tables[name] = self.reads
            elif operation == "DescribeTable" and self.tables.get(name, 0) > 0:
                self.tables[name] -= 1
                parsed["Table"]["TableStatus"] = "CREATING"
        elif service == "lambda":
            name = params.get("FunctionName", "")
            if operation == "CreateFunction":
                self.functions[name] = ("State", self.reads)
            elif operation in ("UpdateFunctionCode", "UpdateFunctionConfiguration"):
                self.functions[name] = ("LastUpdateStatus", self.reads)
            elif operation in ("GetFunction", "GetFunctionConfiguration"):
                busy, left = self.functions.get(name, ("", 0))
                if left > 0:
                    self.functions[name] = (busy, left - 1)
                    configuration = parsed.get("Configuration", parsed)
                    configuration[busy] = "Pending" if busy == "State" else "InProgress"
        elif service == "cloudfront":
            if operation in ("CreateDistributionWithTags", "UpdateDistribution"):
                self.distributions[parsed["Distribution"]["Id"]] = self.reads
            elif operation == "GetDistribution" and self.distributions.get(params["Id"], 0) > 0:
                self.distributions[params["Id"]] -= 1
                parsed["Distribution"]["Status"] = "InProgress"


@dataclass
class Interrupt:
    """Stops the run right after its ``after``-th write call has been answered (counting
    only calls of ``operation``, when given)."""

    after: int
    operation: str | None = None
    seen: int = 0

    def install(self, aws: Aws) -> Interrupt:
        aws.sees(self._see)
        return self

    def _see(
        self, service: str, operation: str, params: dict[str, Any], parsed: dict[str, Any]
    ) -> None:
        if is_write(operation) and self.operation in (None, operation):
            self.seen += 1
            if self.seen == self.after:
                raise Interrupted(f"stopped after write {self.after}: {service} {operation}")


def play_aws(aws: Aws) -> Aws:
    """What every test here needs: the parts of AWS that moto lacks."""
    ResponseHeadersPolicies(aws)
    BudgetTags(aws)
    BucketTagsAtCreation(aws)
    return aws

"""What `make aws` makes beyond the chat's own resources: CloudFront in front of a private
bucket, and the monitoring (log groups, alarms, topic, dashboard, budget); a second run
changes nothing and destroy removes it all. Requests moto can't answer (CloudFront's
response headers policy) are checked as botocore built and validated them."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from emulator.deploy import Options, cdn
from emulator.stack import Stack
from emulator.targets import Target
from emulator.website import WebsiteServer
from scripts.stack import chat_stack
from tests.aws.behaviours import Aws
from tests.aws.conftest import plan_of, small_stack
from tests.aws.played import Refuse


def request(aws: Aws, operation: str) -> dict[str, Any]:
    """The parameters of the one call made of ``operation``."""
    (params,) = [p for _, op, p in aws.requests if op == operation]
    return params


def test_the_website_is_served_by_cloudfront_over_https(
    aws: Aws, chat: Stack, deploy: Callable[..., Any], build_dir: Path
) -> None:
    """A private bucket read through Origin Access Control, HTTPS, compression, fresh
    index.html and config.js; the URL printed is the distribution's own."""
    outputs, _ = deploy(chat, aws)
    cloudfront = aws.client("cloudfront")
    distribution = cloudfront.get_distribution(Id=outputs.distribution_id)["Distribution"]
    assert outputs.website_url == f"https://{distribution['DomainName']}"
    assert distribution["DomainName"].endswith(".cloudfront.net")

    config = request(aws, "CreateDistributionWithTags")["DistributionConfigWithTags"]
    created = config["DistributionConfig"]
    (origin,) = created["Origins"]["Items"]
    (access,) = cloudfront.list_origin_access_controls()["OriginAccessControlList"]["Items"]
    assert origin["OriginAccessControlId"] == access["Id"]
    assert origin["DomainName"] == f"{outputs.bucket}.s3.us-east-1.amazonaws.com"
    assert access["SigningBehavior"] == "always"
    default = created["DefaultCacheBehavior"]
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"
    assert default["Compress"] is True
    assert default["CachePolicyId"] == cdn.CACHING_OPTIMIZED
    fresh = {b["PathPattern"]: b["CachePolicyId"] for b in created["CacheBehaviors"]["Items"]}
    assert fresh == {"/index.html": cdn.CACHING_DISABLED, "/config.js": cdn.CACHING_DISABLED}
    policy_id = default["ResponseHeadersPolicyId"]
    assert all(
        b["ResponseHeadersPolicyId"] == policy_id for b in created["CacheBehaviors"]["Items"]
    )
    assert {"Key": "chat:stack", "Value": chat.stack_id} in config["Tags"]["Items"]

    s3 = aws.client("s3")
    blocked = s3.get_public_access_block(Bucket=outputs.bucket)["PublicAccessBlockConfiguration"]
    assert all(blocked.values())
    assert "PutBucketWebsite" not in {op for _, op, _ in aws.requests}
    (statement,) = json.loads(s3.get_bucket_policy(Bucket=outputs.bucket)["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert statement["Condition"]["StringEquals"]["AWS:SourceArn"] == distribution["ARN"]
    assert plan_of(chat, aws, build_dir).changes == []


def test_cloudfront_sends_the_headers_the_local_website_server_sends(
    aws: Aws, chat: Stack, deploy: Callable[..., Any]
) -> None:
    """The response headers policy carries exactly the local server's CSP, frame, referrer
    and content-type headers, plus HSTS; botocore validated the request."""
    outputs, _ = deploy(chat, aws)
    headers = request(aws, "CreateResponseHeadersPolicy")["ResponseHeadersPolicyConfig"][
        "SecurityHeadersConfig"
    ]
    server = WebsiteServer(aws.client("s3"), outputs.bucket)
    server.start()
    try:
        with urllib.request.urlopen(server.url) as answer:
            local = dict(answer.headers)
    finally:
        server.stop()
    assert (
        headers["ContentSecurityPolicy"]["ContentSecurityPolicy"]
        == local["Content-Security-Policy"]
    )
    assert "frame-ancestors 'none'" in local["Content-Security-Policy"]
    assert headers["FrameOptions"]["FrameOption"] == local["X-Frame-Options"] == "DENY"
    assert headers["ReferrerPolicy"]["ReferrerPolicy"] == local["Referrer-Policy"]
    assert local["X-Content-Type-Options"] == "nosniff"
    assert headers["ContentTypeOptions"]["Override"]
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31_536_000
    assert all(h["Override"] for h in headers.values())


def test_a_region_with_a_dotted_website_endpoint_gets_a_working_url(
    played: Callable[..., Aws], deploy: Callable[..., Any]
) -> None:
    """eu-central-1 (whose S3 website endpoint is s3-website.eu-central-1…): the URL printed
    is the distribution's HTTPS one, and its origin the bucket's regional REST endpoint."""
    aws = played(region="eu-central-1")
    outputs, _ = deploy(chat_stack(stage="prod", region="eu-central-1"), aws)
    origin = request(aws, "CreateDistributionWithTags")["DistributionConfigWithTags"][
        "DistributionConfig"
    ]["Origins"]["Items"][0]
    assert outputs.website_url is not None
    assert outputs.website_url.startswith("https://")
    assert "s3-website" not in outputs.website_url
    assert origin["DomainName"] == f"{outputs.bucket}.s3.eu-central-1.amazonaws.com"


def test_monitoring_is_made_kept_and_removed(
    aws: Aws,
    chat: Stack,
    deploy: Callable[..., Any],
    destroy: Callable[..., Any],
    build_dir: Path,
) -> None:
    """Log groups with the retention asked for, the alarms on the topic with the email
    subscribed, the dashboard and the budget; unchanged by a second run, gone after destroy."""
    target = aws.target
    outputs, report = deploy(chat, aws)
    functions = [chat.function_name(f) for f in chat.all_functions]
    logs = target.client("logs")
    groups = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
    assert {g["logGroupName"]: g.get("retentionInDays") for g in groups} == {
        f"/aws/lambda/{f}": 14 for f in functions
    }
    cloudwatch = target.client("cloudwatch")
    alarms = cloudwatch.describe_alarms(AlarmNamePrefix="chat: ")["MetricAlarms"]
    assert len(alarms) == len(functions) + 2 + len(chat.tables)
    assert all(a["AlarmActions"] == [outputs.alarm_topic] for a in alarms)
    rates = [a for a in alarms if a["AlarmName"].endswith("error rate over 1%")]
    assert len(rates) == len(functions)
    assert all(
        next(m for m in a["Metrics"] if m["ReturnData"])["Expression"]
        == "IF(invocations > 0, 100 * errors / invocations, 0)"
        and a["Threshold"] == 1.0
        for a in rates
    )
    api_alarms = {a["MetricName"] for a in alarms if a.get("Namespace") == "AWS/ApiGateway"}
    assert api_alarms == {"IntegrationError", "ExecutionError"}
    sns = target.client("sns")
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=outputs.alarm_topic)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email", "ops@example.com")]
    assert any("confirm" in note for note in report.notes)
    dashboard = json.loads(
        cloudwatch.get_dashboard(DashboardName="chat-us-east-1")["DashboardBody"]
    )
    graphed = json.dumps(dashboard)
    assert all(f'"{f}"' in graphed for f in functions)
    for metric in ("ConnectCount", "MessageCount", "ConsumedWriteCapacityUnits", "Requests"):
        assert metric in graphed
    budget = target.client("budgets").describe_budget(
        AccountId=target.account_id(), BudgetName="chat-us-east-1-monthly"
    )["Budget"]
    assert float(budget["BudgetLimit"]["Amount"]) == 25
    assert plan_of(chat, aws, build_dir).changes == []

    destroy(chat, aws)
    assert logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"] == []
    assert cloudwatch.describe_alarms(AlarmNamePrefix="chat: ")["MetricAlarms"] == []
    assert cloudwatch.list_dashboards()["DashboardEntries"] == []
    assert sns.list_topics()["Topics"] == []
    assert (
        target.client("budgets").describe_budgets(AccountId=target.account_id()).get("Budgets", [])
        == []
    )


def test_a_control_plane_without_cloudfront_says_so_once(
    new_account: Callable[..., Target],
    played: Callable[..., Aws],
    deploy: Callable[..., Any],
) -> None:
    """LocalStack's free plan answers CloudFront (and here SNS) with 501: deploy says so in
    one line each, serves the website as `make local` does, and skips what needs them."""
    aws = played(replace(new_account(), name="localstack"))
    for service, operation in (("cloudfront", "ListDistributions"), ("sns", "ListTopics")):
        Refuse(service, operation, "InternalFailure", "not in your plan", 501, times=9).install(aws)
    outputs, report = deploy(small_stack(), aws, Options(patience=0.0))
    assert outputs.website_url is None  # the harness's website server fills it in
    assert outputs.distribution_id is None
    assert outputs.alarm_topic is None
    notes = "\n".join(report.notes)
    assert notes.count("offers no CloudFront") == 1
    assert "offers no sns: skipped the alarms' topic" in notes
    made = {kind for _, kind, _ in report.steps}
    assert {"distribution", "topic", "alarm"}.isdisjoint(made)
    assert {"log group", "dashboard", "bucket", "client file"} <= made
    writes = {op for service, op in aws.calls if service in ("cloudfront", "sns")}
    assert writes == {"ListDistributions", "ListTopics"}  # the probes, and nothing else

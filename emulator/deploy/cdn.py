"""CloudFront in front of the private website bucket: HTTPS, security headers, compression.

Three resources, all global to the account (so their names carry the region):

- an Origin Access Control, through which CloudFront signs its reads of the bucket;
- a response headers policy sending the headers the local website server sends
  (:mod:`emulator.website`: the page's CSP with ``frame-ancestors 'none'``,
  ``X-Frame-Options``, ``Referrer-Policy``, ``X-Content-Type-Options``) plus HSTS;
- the distribution: HTTP redirected to HTTPS, compressed, cached by AWS's managed
  CachingOptimized policy (which honours the bucket's ``Cache-Control``), except
  ``index.html`` and ``config.js``, which CachingDisabled fetches fresh every time.

Neither CloudFront policy nor the access control takes tags: their description carries
the stack's tag. A distribution has no name: deploy finds its own by its comment, and
checks its tags. Deleting one takes AWS's order: disable, wait until the change has
reached every edge location (minutes), then delete with the new ETag.
"""

from __future__ import annotations

import uuid
from typing import Any

from emulator.deploy import calls
from emulator.deploy.executor import Context
from emulator.deploy.models import ABSENT, CREATED, DELETED, UNCHANGED, UPDATED, Step
from emulator.stack import Website
from emulator.website import SECURITY_HEADERS, content_security_policy

# AWS's managed cache policies (documented ids, the same in every account).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ORIGIN_ID = "website-bucket"
HSTS_SECONDS = 63_072_000  # two years, as browsers' preload lists expect
OAC_SETTINGS = {
    "SigningProtocol": "sigv4",
    "SigningBehavior": "always",
    "OriginAccessControlOriginType": "s3",
}


# --- the origin access control -------------------------------------------------------


def _find_access_control(ctx: Context) -> dict[str, Any] | None:
    cloudfront = ctx.client("cloudfront")
    name = ctx.names.origin_access_control
    for item in calls.pages(
        cloudfront, "list_origin_access_controls", "OriginAccessControlList.Items"
    ):
        if item.get("Name") == name:
            return dict(item)
    return None


def plan_access_control(ctx: Context) -> list[Step]:
    cloudfront = ctx.client("cloudfront")
    name = ctx.names.origin_access_control
    wanted = {"Name": name, "Description": ctx.names.marker, **OAC_SETTINGS}
    found = _find_access_control(ctx)
    if found is None:

        def create() -> None:
            created = cloudfront.create_origin_access_control(OriginAccessControlConfig=wanted)
            ctx.refs.origin_access_control = created["OriginAccessControl"]["Id"]

        return [Step(CREATED, "access control", name, create)]
    ctx.refs.origin_access_control = found["Id"]
    if not ctx.owned("access control", name, _marked(ctx, found.get("Description"))):
        return []
    if not calls.differs(OAC_SETTINGS, found):
        return [Step(UNCHANGED, "access control", name)]

    def update() -> None:
        etag = cloudfront.get_origin_access_control(Id=found["Id"])["ETag"]
        cloudfront.update_origin_access_control(
            Id=found["Id"], IfMatch=etag, OriginAccessControlConfig=wanted
        )

    return [Step(UPDATED, "access control", name, update)]


def _marked(ctx: Context, description: str | None) -> dict[str, str]:
    """A description that carries the stack's tag, read as the tag it carries."""
    key, _, value = (description or "").partition("=")
    return {key: value} if value else {}


# --- the response headers policy ----------------------------------------------------


def headers_policy_config(ctx: Context, website: Website) -> dict[str, Any]:
    """The security headers the local website server sends, plus HSTS (HTTPS only)."""
    page = (website.directory / "index.html").read_bytes()
    local = dict(SECURITY_HEADERS)
    return {
        "Name": ctx.names.headers_policy,
        "Comment": ctx.names.marker,
        "SecurityHeadersConfig": {
            "ContentSecurityPolicy": {
                "Override": True,
                "ContentSecurityPolicy": content_security_policy(page, "text/html"),
            },
            "FrameOptions": {"Override": True, "FrameOption": local["X-Frame-Options"]},
            "ReferrerPolicy": {"Override": True, "ReferrerPolicy": local["Referrer-Policy"]},
            "ContentTypeOptions": {"Override": True},  # X-Content-Type-Options: nosniff
            "StrictTransportSecurity": {
                "Override": True,
                "AccessControlMaxAgeSec": HSTS_SECONDS,
                "IncludeSubdomains": False,
                "Preload": False,
            },
        },
    }


def _find_headers_policy(ctx: Context) -> dict[str, Any] | None:
    cloudfront = ctx.client("cloudfront")
    marker = None
    while True:
        listing = cloudfront.list_response_headers_policies(
            Type="custom", **({"Marker": marker} if marker else {})
        )["ResponseHeadersPolicyList"]
        for item in listing.get("Items") or []:
            policy = item["ResponseHeadersPolicy"]
            if policy["ResponseHeadersPolicyConfig"].get("Name") == ctx.names.headers_policy:
                return dict(policy)
        marker = listing.get("NextMarker")
        if not marker:
            return None


def plan_headers_policy(ctx: Context, website: Website) -> list[Step]:
    cloudfront = ctx.client("cloudfront")
    name = ctx.names.headers_policy
    wanted = headers_policy_config(ctx, website)
    found = _find_headers_policy(ctx)
    if found is None:

        def create() -> None:
            created = cloudfront.create_response_headers_policy(ResponseHeadersPolicyConfig=wanted)
            ctx.refs.headers_policy = created["ResponseHeadersPolicy"]["Id"]

        return [Step(CREATED, "headers policy", name, create)]
    ctx.refs.headers_policy = found["Id"]
    current = found["ResponseHeadersPolicyConfig"]
    if not ctx.owned("headers policy", name, _marked(ctx, current.get("Comment"))):
        return []
    if not calls.differs(wanted, current):
        return [Step(UNCHANGED, "headers policy", name)]

    def update() -> None:
        etag = cloudfront.get_response_headers_policy(Id=found["Id"])["ETag"]
        cloudfront.update_response_headers_policy(
            Id=found["Id"], IfMatch=etag, ResponseHeadersPolicyConfig=wanted
        )

    return [Step(UPDATED, "headers policy", name, update)]


# --- the distribution ---------------------------------------------------------------


def distribution_config(ctx: Context, website: Website, bucket: str) -> dict[str, Any]:
    """The distribution as the stack wants it, with the policy ids known when it runs."""

    def behaviour(cache_policy: str) -> dict[str, Any]:
        methods = {"Quantity": 2, "Items": ["GET", "HEAD"]}
        return {
            "TargetOriginId": ORIGIN_ID,
            "ViewerProtocolPolicy": "redirect-to-https",
            "Compress": True,
            "CachePolicyId": cache_policy,
            "ResponseHeadersPolicyId": ctx.refs.headers_policy,
            "AllowedMethods": {**methods, "CachedMethods": methods},
        }

    fresh = ["index.html", website.config_file]
    return {
        "Comment": ctx.names.distribution,
        "Enabled": True,
        "DefaultRootObject": "index.html",
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": ORIGIN_ID,
                    "DomainName": f"{bucket}.s3.{ctx.target.region}.amazonaws.com",
                    "OriginPath": "",
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                    "OriginAccessControlId": ctx.refs.origin_access_control,
                }
            ],
        },
        "DefaultCacheBehavior": behaviour(CACHING_OPTIMIZED),
        "CacheBehaviors": {
            "Quantity": len(fresh),
            "Items": [{"PathPattern": f"/{key}", **behaviour(CACHING_DISABLED)} for key in fresh],
        },
        "PriceClass": "PriceClass_100",  # North America and Europe: the cheapest
        "HttpVersion": "http2and3",
        "IsIPV6Enabled": True,
    }


def find_distribution(ctx: Context) -> dict[str, Any] | None:
    cloudfront = ctx.client("cloudfront")
    for item in calls.pages(cloudfront, "list_distributions", "DistributionList.Items"):
        if item.get("Comment") == ctx.names.distribution:
            return dict(item)
    return None


def _distribution_tags(ctx: Context, arn: str) -> dict[str, str]:
    tags = ctx.client("cloudfront").list_tags_for_resource(Resource=arn)["Tags"]
    return calls.tag_dict(tags.get("Items"))


def plan_distribution(ctx: Context, website: Website, bucket: str) -> list[Step]:
    cloudfront = ctx.client("cloudfront")
    name = ctx.names.distribution
    found = find_distribution(ctx)
    if found is None:

        def create() -> None:
            config = distribution_config(ctx, website, bucket)
            config["CallerReference"] = f"{ctx.names.base}-{uuid.uuid4()}"
            created = cloudfront.create_distribution_with_tags(
                DistributionConfigWithTags={
                    "DistributionConfig": config,
                    "Tags": {"Items": calls.tag_list(ctx.tags)},
                }
            )["Distribution"]
            ctx.refs.distribution_id = created["Id"]
            ctx.refs.distribution_domain = created["DomainName"]

        return [Step(CREATED, "distribution", name, create)]
    ctx.refs.distribution_id, ctx.refs.distribution_domain = found["Id"], found["DomainName"]
    if not ctx.owned(
        "distribution", f"{found['Id']} ({name})", _distribution_tags(ctx, found["ARN"])
    ):
        return []
    current = cloudfront.get_distribution_config(Id=found["Id"])["DistributionConfig"]
    if not calls.differs(distribution_config(ctx, website, bucket), current):
        return [Step(UNCHANGED, "distribution", name)]

    def update() -> None:
        latest = cloudfront.get_distribution_config(Id=found["Id"])
        cloudfront.update_distribution(
            Id=found["Id"],
            IfMatch=latest["ETag"],
            DistributionConfig=calls.merged(
                latest["DistributionConfig"], distribution_config(ctx, website, bucket)
            ),
        )

    return [Step(UPDATED, "distribution", name, update)]


def website_url(ctx: Context) -> str:
    return f"https://{ctx.refs.distribution_domain}"


# --- removal ------------------------------------------------------------------------


def removal(ctx: Context) -> list[Step]:
    """The distribution first (AWS refuses to delete policies still in use), then its parts."""
    cloudfront = ctx.client("cloudfront")
    steps: list[Step] = []
    found = find_distribution(ctx)
    if found is None:
        steps.append(Step(ABSENT, "distribution", ctx.names.distribution))
    elif ctx.owned(
        "distribution",
        f"{found['Id']} ({ctx.names.distribution})",
        _distribution_tags(ctx, found["ARN"]),
    ):
        steps.append(
            Step(
                DELETED,
                "distribution",
                ctx.names.distribution,
                lambda: _delete_distribution(ctx, found["Id"]),
            )
        )
    access = _find_access_control(ctx)
    if access is None:
        steps.append(Step(ABSENT, "access control", ctx.names.origin_access_control))
    elif ctx.owned(
        "access control", ctx.names.origin_access_control, _marked(ctx, access.get("Description"))
    ):

        def delete_access() -> None:
            etag = cloudfront.get_origin_access_control(Id=access["Id"])["ETag"]
            cloudfront.delete_origin_access_control(Id=access["Id"], IfMatch=etag)

        steps.append(
            Step(DELETED, "access control", ctx.names.origin_access_control, delete_access)
        )
    policy = _find_headers_policy(ctx)
    if policy is None:
        steps.append(Step(ABSENT, "headers policy", ctx.names.headers_policy))
    elif ctx.owned(
        "headers policy",
        ctx.names.headers_policy,
        _marked(ctx, policy["ResponseHeadersPolicyConfig"].get("Comment")),
    ):

        def delete_policy() -> None:
            etag = cloudfront.get_response_headers_policy(Id=policy["Id"])["ETag"]
            cloudfront.delete_response_headers_policy(Id=policy["Id"], IfMatch=etag)

        steps.append(Step(DELETED, "headers policy", ctx.names.headers_policy, delete_policy))
    return steps


def _delete_distribution(ctx: Context, distribution_id: str) -> None:
    cloudfront = ctx.client("cloudfront")
    current = cloudfront.get_distribution_config(Id=distribution_id)
    if current["DistributionConfig"].get("Enabled"):
        cloudfront.update_distribution(
            Id=distribution_id,
            IfMatch=current["ETag"],
            DistributionConfig={**current["DistributionConfig"], "Enabled": False},
        )
    ctx.report.note(
        f"CloudFront is disabling distribution {distribution_id} at every edge location "
        "before it can be deleted: usually a few minutes, up to 35 (an interrupted destroy "
        "resumes here)"
    )
    ctx.wait("cloudfront", "distribution_deployed", Id=distribution_id)
    etag = cloudfront.get_distribution(Id=distribution_id)["ETag"]
    cloudfront.delete_distribution(Id=distribution_id, IfMatch=etag)

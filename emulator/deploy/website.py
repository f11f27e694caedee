"""The website bucket and the client's files in it. The bucket is private, always.

On AWS, CloudFront reads it through Origin Access Control (:mod:`emulator.deploy.cdn`)
and the bucket policy lets that one distribution read, which Block Public Access (left
on, for the bucket and whatever the account or organisation sets) doesn't stop: the
policy is not public. Where there is no CloudFront, the harness's website server reads
the bucket with the account's own credentials. A bucket is created with its tags in
the same call, so a run interrupted right after can tell it is ours.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

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
from emulator.stack import Website

CACHE_HTML = "no-cache"
CACHE_ASSETS = "max-age=300"
PRIVATE = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
_MISSING = ("404", "NoSuchBucket", "NotFound")


def plan_bucket(ctx: Context, bucket: str) -> list[Step]:
    """A private bucket, tagged as ours. Its step says ``created`` when it is new."""
    s3 = ctx.client("s3")
    tags = _bucket_tags(ctx, bucket)
    if tags is None:
        return [Step(CREATED, "bucket", bucket, lambda: _create(ctx, bucket))]
    if not ctx.owned("bucket", bucket, tags):
        return []
    try:
        current = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except Exception as exc:
        if not calls.is_error(exc, "NoSuchPublicAccessBlockConfiguration"):
            raise
        current = {}
    if current == PRIVATE:
        return [Step(UNCHANGED, "bucket", bucket)]
    return [Step(UPDATED, "bucket", bucket, lambda: _keep_private(ctx, bucket))]


def _create(ctx: Context, bucket: str) -> None:
    s3 = ctx.client("s3")
    configuration: dict[str, Any] = {"Tags": calls.tag_list(ctx.tags)}
    if ctx.target.region != "us-east-1":
        configuration["LocationConstraint"] = ctx.target.region
    try:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration=configuration)
    except Exception as exc:
        if calls.is_error(exc, "BucketAlreadyExists"):
            raise DeployError(
                f"bucket name {bucket} is taken by another account: choose another PREFIX="
            ) from exc
        raise
    ctx.wait("s3", "bucket_exists", Bucket=bucket)
    if _bucket_tags(ctx, bucket) != ctx.tags:
        # A control plane that ignores CreateBucket's tags (moto) gets them now.
        ctx.retry(
            lambda: s3.put_bucket_tagging(
                Bucket=bucket, Tagging={"TagSet": calls.tag_list(ctx.tags)}
            ),
            calls.bucket_busy,
        )
    _keep_private(ctx, bucket)


def _keep_private(ctx: Context, bucket: str) -> None:
    s3 = ctx.client("s3")
    ctx.retry(
        lambda: s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=PRIVATE),
        calls.bucket_busy,
    )


def _bucket_tags(ctx: Context, bucket: str) -> dict[str, str] | None:
    """The bucket's tags; None when there is no such bucket."""
    s3 = ctx.client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
    except Exception as exc:
        if calls.is_error(exc, "403", "AccessDenied"):
            raise DeployError(
                f"bucket {bucket} exists but S3 refuses to show it to these credentials: it "
                "belongs to another account (choose another PREFIX=), or they may not read it"
            ) from exc
        if calls.is_error(exc, *_MISSING):
            return None
        raise
    try:
        return calls.tag_dict(s3.get_bucket_tagging(Bucket=bucket).get("TagSet"))
    except Exception as exc:
        if calls.is_error(exc, "NoSuchTagSet"):
            return {}
        raise


def plan_files(
    ctx: Context,
    website: Website,
    bucket: str,
    bucket_is_new: bool,
    websocket_url: Callable[[], str],
) -> list[Step]:
    """The client's files, and config.js naming the WebSocket URL (known when it runs)."""
    s3 = ctx.client("s3")
    types = dict(website.files)
    bodies: dict[str, Callable[[], bytes]] = {
        key: (website.directory / key).read_bytes for key in types
    }
    bodies[website.config_file] = lambda: client_config(website, websocket_url())
    steps = []
    for key, body in bodies.items():
        content_type = types.get(key, "text/javascript; charset=utf-8")
        cache = CACHE_HTML if key in ("index.html", website.config_file) else CACHE_ASSETS
        etag = f'"{hashlib.md5(body(), usedforsecurity=False).hexdigest()}"'
        action = CREATED
        if not bucket_is_new:
            try:
                head = s3.head_object(Bucket=bucket, Key=key)
                same = (
                    head.get("ETag") == etag
                    and head.get("ContentType") == content_type
                    and head.get("CacheControl") == cache
                )
                action = UNCHANGED if same else UPDATED
            except Exception as exc:
                if not calls.is_error(exc, "404", "NoSuchKey", "NotFound"):
                    raise

        def upload(
            key: str = key,
            body: Callable[[], bytes] = body,
            kind: str = content_type,
            cache: str = cache,
        ) -> None:
            s3.put_object(Bucket=bucket, Key=key, Body=body(), ContentType=kind, CacheControl=cache)

        steps.append(Step(action, "client file", key, None if action == UNCHANGED else upload))
    return steps


def client_config(website: Website, websocket_url: str) -> bytes:
    """The client's configuration, written at deploy so nobody edits the client's code."""
    config = json.dumps({"websocketUrl": websocket_url})
    return f"window.{website.config_global} = {config};\n".encode()


def distribution_policy(ctx: Context, bucket: str) -> dict[str, Any]:
    """Reads of the bucket's objects by this stack's CloudFront distribution, and nobody else."""
    distribution = f"arn:aws:cloudfront::{ctx.refs.account}:distribution/{ctx.refs.distribution_id}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CloudFrontReadsTheWebsite",
                "Effect": "Allow",
                "Principal": {"Service": "cloudfront.amazonaws.com"},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
                "Condition": {"StringEquals": {"AWS:SourceArn": distribution}},
            }
        ],
    }


def plan_bucket_policy(ctx: Context, bucket: str, bucket_is_new: bool) -> list[Step]:
    s3 = ctx.client("s3")
    current = None
    if not bucket_is_new:
        try:
            current = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        except Exception as exc:
            if not calls.is_error(exc, "NoSuchBucketPolicy"):
                raise
    if ctx.refs.distribution_id != NEW and current == distribution_policy(ctx, bucket):
        return [Step(UNCHANGED, "bucket policy", bucket)]

    def put() -> None:
        policy = json.dumps(distribution_policy(ctx, bucket))
        ctx.retry(lambda: s3.put_bucket_policy(Bucket=bucket, Policy=policy), calls.bucket_busy)

    return [Step(CREATED if current is None else UPDATED, "bucket policy", bucket, put)]


def remove_bucket(ctx: Context, bucket: str) -> list[Step]:
    s3 = ctx.client("s3")
    tags = _bucket_tags(ctx, bucket)
    if tags is None:
        return [Step(ABSENT, "bucket", bucket)]
    if not ctx.owned("bucket", bucket, tags):
        return []

    def delete() -> None:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            objects = [
                {"Key": o["Key"], "VersionId": o["VersionId"]}
                for o in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            if objects:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": objects})
        s3.delete_bucket(Bucket=bucket)

    return [Step(DELETED, "bucket", bucket, delete)]

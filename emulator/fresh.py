"""A fresh stack per test without a deploy per test: back to the moment after deploy.

The pytest plugin's ``isolation = "test"`` (and ``"module"``) deploys each stack once;
:meth:`Fresh.take` records the stack right after deploy, and :meth:`Fresh.restore`
puts it back to that moment between tests:

1. every open connection is closed (1001, "Going away") and its ``$disconnect`` has
   run, so a function sees the end of the connections the test before left open;
2. every worker is stopped: each function's next invocation is a cold start in a new
   execution environment, its module-level state new, as in a stack deployed a
   moment ago (workers are forked from a preloaded template process, so this costs a
   fork and the handler module's import, not a Python start);
3. the account's DynamoDB is put back as it was: the tables deploy made, with their
   items then (a table created since is gone, one deleted is back), copied straight
   into moto's models while :data:`emulator.moto_dynamodb.LOCK` is held, so no request
   sees a table half restored;
4. the website bucket's objects are put back as deploy left them (only those that
   changed are written);
5. each route's throttle starts with a full bucket.

Nothing else is restored: other services a test changes through boto3 (a function's
configuration, a queue) keep the change. Functions run only for connections, and
every connection has ended before the workers stop, so no function writes while the
tables are put back.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from typing import Any

from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table

from emulator import moto_dynamodb
from emulator.harness import Harness

_Tables = dict[str, dict[str, Table]]  # region → table name → the table


@dataclass(frozen=True)
class _Object:
    body: bytes
    etag: str
    content_type: str
    cache_control: str


@dataclass
class Restored:
    """What one restore undid (for tests and the curious)."""

    connections: int = 0
    workers: int = 0
    objects: int = 0


@dataclass
class Fresh:
    """The stack as deploy left it: its account's tables, its website bucket's objects."""

    account_id: str
    tables: _Tables
    bucket: str | None = None
    objects: dict[str, _Object] = field(default_factory=dict)

    @classmethod
    def take(cls, harness: Harness) -> Fresh:
        """Record the stack now (blocking: call it right after the harness started)."""
        assert harness.target is not None
        account_id = harness.settings.account_id or str(
            harness.target.client("sts").get_caller_identity()["Account"]
        )
        with moto_dynamodb.LOCK:
            tables = _copy(_regions(account_id))
        bucket = harness.outputs.bucket if harness.outputs is not None else None
        objects = _objects(harness.target.client("s3"), bucket) if bucket else {}
        return cls(account_id, tables, bucket, objects)

    async def restore(self, harness: Harness) -> Restored:
        """Put the stack back as it was when taken (on the harness's loop)."""
        done = Restored()
        if harness.gateway is not None:
            done.connections = await harness.gateway.close_all()
            harness.gateway.refill_throttles()
        if harness.runner is not None:
            done.workers = await harness.runner.recycle()
        with moto_dynamodb.LOCK:
            regions = _regions(self.account_id)
            for region, backend_tables in regions.items():
                backend_tables.clear()
                backend_tables.update(_copy({region: self.tables.get(region, {})})[region])
        if self.bucket is not None:
            assert harness.target is not None
            s3 = harness.target.client("s3")
            done.objects = await asyncio.to_thread(self._restore_objects, s3, self.bucket)
        return done

    def _restore_objects(self, s3: Any, bucket: str) -> int:
        """Delete the objects added, write back those changed or deleted; how many."""
        now = {key: etag for key, etag in _listing(s3, bucket)}
        added = [key for key in now if key not in self.objects]
        for start in range(0, len(added), 1000):
            chunk = [{"Key": key} for key in added[start : start + 1000]]
            s3.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})
        changed = [key for key, saved in self.objects.items() if now.get(key) != saved.etag]
        for key in changed:
            saved = self.objects[key]
            s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=saved.body,
                ContentType=saved.content_type,
                CacheControl=saved.cache_control,
            )
        return len(added) + len(changed)


def _regions(account_id: str) -> dict[str, dict[str, Table]]:
    """Each region's tables in the account, as moto holds them (hold the lock)."""
    account = dynamodb_backends[account_id]
    return {region: account[region].tables for region in list(dict.keys(account))}


def _copy(tables: _Tables) -> _Tables:
    """New tables with the same items (moto's own backups copy tables the same way)."""
    return {region: copy.deepcopy(by_name) for region, by_name in tables.items()}


def _listing(s3: Any, bucket: str) -> list[tuple[str, str]]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return [(o["Key"], o["ETag"]) for page in pages for o in page.get("Contents", [])]


def _objects(s3: Any, bucket: str) -> dict[str, _Object]:
    saved = {}
    for key, _ in _listing(s3, bucket):
        got = s3.get_object(Bucket=bucket, Key=key)
        saved[key] = _Object(
            got["Body"].read(),
            got["ETag"],
            got.get("ContentType", ""),
            got.get("CacheControl", ""),
        )
    return saved

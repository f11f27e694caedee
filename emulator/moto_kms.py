"""moto's KMS kept out of a stack that doesn't use it: DynamoDB's default key made late.

Deploy creates tables encrypted with the AWS-managed key (``SSESpecification`` enabled,
as on AWS), and moto makes the account's ``alias/aws/dynamodb`` key in its KMS backend
on the first encrypted table of a region. Importing moto's KMS loads ``cryptography``'s
Rust extension and ``libcrypto`` (about 9 MB resident) and KMS's service model, and its
every key generates a 2048-bit RSA private key (40 to 90 ms) used only to sign and
verify, for a key a WebSocket stack never asks KMS about. So:

- until something imports moto's KMS (a request to KMS, a key looked up), a table's
  default key is a key id chosen now (moto's seeded ``uuid4``, as moto's own would be)
  and its ARN; when KMS is imported, every key chosen so far is made in its backend,
  with its id and its alias, before anyone can ask for it (:func:`install`'s hook);
- from then on moto makes them itself, and any key's private key is generated the first
  time it is used (:class:`_LazyPrivateKey`).
"""

from __future__ import annotations

import functools
import threading
import types
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models.table import Table
from moto.moto_api._internal import mock_random
from moto.utilities.utils import get_partition

from emulator import lazy_import

KMS_MODULE = "moto.kms.models"
ALIAS = "alias/aws/dynamodb"
_LOCK = threading.Lock()  # the chosen keys and whether KMS is loaded
_KEY_LOCK = threading.Lock()  # one for all private keys: an object with a lock can't be copied
_chosen: dict[tuple[str, str], str] = {}  # (account, region): the default key's id, not made
_kms_loaded = False


class _LazyPrivateKey:
    """A moto KMS key's private key, generated when first used (sign, verify, public key)."""

    def __init__(self, key_spec: str, generate: Callable[[str], Any]) -> None:
        self._key_spec = key_spec
        self._generate = generate
        self._key: Any = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy and pickle probe these: the object's own answer
            raise AttributeError(name)
        with _KEY_LOCK:
            if self._key is None:
                self._key = self._generate(self._key_spec)
        return getattr(self._key, name)


def _arn(account_id: str, region: str, key_id: str) -> str:
    return f"arn:{get_partition(region)}:kms:{region}:{account_id}:key/{key_id}"


def _default_key(moto_own: Callable[[Table, str, str], str]) -> Callable[[Table, str, str], str]:
    """DynamoDB's look-up of an account's default key: moto's own once KMS is loaded;
    until then the key's id is chosen and the key made when KMS is."""

    def default_key(table: Table, account_id: str, region: str) -> str:
        with _LOCK:
            if not _kms_loaded:
                key_id = _chosen.setdefault((account_id, region), str(mock_random.uuid4()))
                return _arn(account_id, region, key_id)
        return moto_own(table, account_id, region)

    return default_key


def _kms_imported(kms: types.ModuleType) -> None:
    """Once moto's KMS module has run: its private keys generated on first use, and the
    default keys chosen so far made, with the ids tables already name."""
    global _kms_loaded
    generate = vars(kms)["generate_private_key"]
    vars(kms)["generate_private_key"] = functools.partial(_LazyPrivateKey, generate=generate)
    generate_key_id = vars(kms)["generate_key_id"]
    with _LOCK:
        for (account_id, region), key_id in _chosen.items():
            backend = kms.kms_backends[account_id][region]
            if backend.alias_exists(ALIAS):
                continue
            # The key made as moto makes it, with the id the tables already name (and no
            # other draw from moto's seeded ids).
            vars(kms)["generate_key_id"] = lambda multi_region=False, chosen=key_id: chosen
            try:
                backend.create_key(
                    policy="",
                    key_usage="ENCRYPT_DECRYPT",
                    key_spec="SYMMETRIC_DEFAULT",
                    description="Default master key that protects my DynamoDB table storage",
                    tags=None,
                )
            finally:
                vars(kms)["generate_key_id"] = generate_key_id
            backend.create_alias(key_id, ALIAS)
        _chosen.clear()
        _kms_loaded = True


def install() -> None:
    """DynamoDB's default keys chosen without KMS until it is loaded (once per process)."""
    Table._get_default_encryption_key = _default_key(  # type: ignore[method-assign,assignment]
        Table._get_default_encryption_key
    )
    lazy_import.after_import(KMS_MODULE, _kms_imported)

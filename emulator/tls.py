"""A local certificate authority, so handlers can reach ``https://{domainName}/{stage}``.

The gateway serves ``@connections`` over HTTPS with a certificate for the API's AWS
hostname (``*.execute-api.{region}.amazonaws.com``), ``localhost`` and 127.0.0.1,
signed by a CA of our own; functions get ``AWS_CA_BUNDLE`` pointing at it, so botocore
verifies the connection as it would on AWS.

Making them takes ``cryptography`` (about 8 MB of memory once loaded, and 20-30 ms), so
they are kept between runs in the user's cache (``XDG_CACHE_HOME``, else ``~/.cache``:
``ws-emulator/tls/v1``), one folder per region named by when its certificates expire,
and made again when less than :data:`RENEW_BEFORE` is left, or when the kept files don't
load (a folder is renamed into place only once its files are on disk). Only the server's key is kept
(readable by its owner only); the CA's key is thrown away once it has signed, so the
kept CA can vouch for nothing else. A cache that can't be written is skipped: the
certificates are made in the run's own folder, as they are for one run.
"""

from __future__ import annotations

import contextlib
import datetime
import shutil
import ssl
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from emulator import template_cache

FORMAT = "v1"  # what the kept certificates cover and how: a change is a new folder
LIFETIME = datetime.timedelta(days=30)
RENEW_BEFORE = datetime.timedelta(days=2)  # a run started now outlives none it can meet
STAGING_LEFT_SECONDS = 3600  # a folder still being written after an hour was abandoned
_FILES = ("ca.pem", "cert.pem", "key.pem")


@dataclass(frozen=True)
class Certificates:
    ca_path: Path
    cert_path: Path
    key_path: Path

    @classmethod
    def in_folder(cls, folder: Path) -> Certificates:
        return cls(*(folder / name for name in _FILES))


def execute_api_host(api_id: str, region: str) -> str:
    """The hostname AWS gives an API: ``{apiId}.execute-api.{region}.amazonaws.com``."""
    return f"{api_id}.execute-api.{region}.amazonaws.com"


def cache_dir() -> Path:
    return template_cache.cache_dir().parent / "tls" / FORMAT


def _usable(certificates: Certificates) -> bool:
    """Whether the files load as a server's certificate and key, and as a CA bundle
    (``ssl`` reads them; a folder left half-written, or unreadable, is not)."""
    try:
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(certificates.cert_path, certificates.key_path)
        ssl.create_default_context(cafile=str(certificates.ca_path))
    except (OSError, ssl.SSLError, ValueError):
        return False
    return True


def _kept(home: Path, region: str) -> list[tuple[float, Path]]:
    """The region's kept folders (``{region}.{expiry}.{suffix}``) and when each expires,
    soonest first; a folder still being written (its name starts with a dot) is not one,
    and whether one's files load is :func:`_usable`'s to say."""
    kept = []
    for folder in home.glob(f"{region}.*"):
        _, _, rest = folder.name.partition(".")
        expiry, _, _ = rest.partition(".")
        if expiry.isdigit():
            kept.append((float(expiry), folder))
    return sorted(kept)


def _keep_new(home: Path, region: str, now: float) -> Certificates:
    from emulator.tls_authority import make_certificates

    home.mkdir(parents=True, exist_ok=True)
    for left in home.glob(f".{region}.*"):  # a run killed while it wrote them
        with contextlib.suppress(OSError):  # gone meanwhile
            if left.stat().st_mtime < now - STAGING_LEFT_SECONDS:
                shutil.rmtree(left, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{region}.", dir=home))
    try:
        make_certificates(staging, region, LIFETIME)
        # Named once complete (a rename is atomic), so a run starting alongside sees the
        # folder whole or not at all; the staging suffix keeps two runs' names apart.
        expiry = int(now + LIFETIME.total_seconds() - 60)
        folder = home / f"{region}.{expiry}{staging.name.removeprefix(f'.{region}')}"
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for when, old in _kept(home, region):
        if when < now:  # expired: no run can still be using it
            shutil.rmtree(old, ignore_errors=True)
    return Certificates.in_folder(folder)


def certificates(region: str, fallback: Path) -> Certificates:
    """The certificates for ``region``'s APIs: kept ones with more than
    :data:`RENEW_BEFORE` left, else new ones, kept for the next runs; made in
    ``fallback`` (for this run only) when the cache can't be written."""
    home = cache_dir()
    now = time.time()
    try:
        for expiry, folder in reversed(_kept(home, region)):
            if expiry - now <= RENEW_BEFORE.total_seconds():
                break
            found = Certificates.in_folder(folder)
            if _usable(found):
                return found
        return _keep_new(home, region, now)
    except OSError:
        from emulator.tls_authority import make_certificates

        return make_certificates(fallback, region)

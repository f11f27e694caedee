"""The ``@connections`` certificates: kept between runs, renewed before they expire."""

from __future__ import annotations

import os
import ssl
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from emulator import tls, tls_authority
from emulator.tls import Certificates, certificates


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "ws-emulator" / "tls" / tls.FORMAT


def refuse(*_: Any) -> Any:
    raise AssertionError("made again: the kept certificates were not used")


def verifies(made: Certificates, region: str = "us-east-1") -> None:
    """A TLS handshake (in memory) in which a client trusting only the CA checks the
    server's certificate for an API's AWS hostname; the key is its owner's alone."""
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(made.cert_path, made.key_path)
    client_context = ssl.create_default_context(cafile=str(made.ca_path))
    host = tls.execute_api_host("abc123", region)
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_context.wrap_bio(to_client, to_server, server_hostname=host)
    server = server_context.wrap_bio(to_server, to_client, server_side=True)
    done: set[str] = set()
    for _ in range(10):
        for name, end in (("client", client), ("server", server)):
            try:
                end.do_handshake()
                done.add(name)
            except ssl.SSLWantReadError:
                pass
    assert done == {"client", "server"}
    assert stat.S_IMODE(os.stat(made.key_path).st_mode) == 0o600


def test_certificates_are_made_once_and_kept_for_the_next_run(
    cache_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = certificates("eu-west-1", tmp_path / "run1")
    verifies(first, "eu-west-1")
    assert first.ca_path.parent.parent == cache_home
    assert not (tmp_path / "run1").exists()

    monkeypatch.setattr(tls_authority, "make_certificates", refuse)
    assert certificates("eu-west-1", tmp_path / "run2") == first


def test_each_region_has_its_own(tmp_path: Path) -> None:
    east = certificates("us-east-1", tmp_path / "run")
    west = certificates("us-west-2", tmp_path / "run")
    assert east.ca_path.parent != west.ca_path.parent
    verifies(east, "us-east-1")
    verifies(west, "us-west-2")
    with pytest.raises(ssl.SSLCertVerificationError):
        verifies(east, "us-west-2")


def test_certificates_near_their_end_are_made_again_and_expired_ones_removed(
    cache_home: Path, tmp_path: Path
) -> None:
    kept = certificates("us-east-1", tmp_path / "run")
    expiring = cache_home / f"us-east-1.{int(time.time() + 3600)}.soon"
    expired = cache_home / f"us-east-1.{int(time.time() - 3600)}.gone"
    kept.ca_path.parent.rename(expiring)
    expired.mkdir()
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (expired / name).write_bytes((expiring / name).read_bytes())

    renewed = certificates("us-east-1", tmp_path / "run")
    assert renewed.ca_path.parent not in (expiring, expired)
    verifies(renewed)
    assert expiring.exists()  # a run started with it may still be serving
    assert not expired.exists()


def test_a_folder_being_written_or_incomplete_is_not_used(cache_home: Path, tmp_path: Path) -> None:
    far = int(time.time() + 20 * 86400)
    (cache_home / f".us-east-1.{far}.staging").mkdir(parents=True)
    incomplete = cache_home / f"us-east-1.{far}.partial"
    incomplete.mkdir()
    (incomplete / "ca.pem").write_text("not a certificate")
    made = certificates("us-east-1", tmp_path / "run")
    assert made.ca_path.parent != incomplete
    verifies(made)


def test_kept_files_that_dont_load_are_made_again(cache_home: Path, tmp_path: Path) -> None:
    """A folder whose files are there but empty (a crash before they reached the disk)
    or not a certificate is passed over."""
    kept = certificates("us-east-1", tmp_path / "run").ca_path.parent
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (kept / name).write_bytes(b"")
    made = certificates("us-east-1", tmp_path / "run")
    assert made.ca_path.parent != kept
    verifies(made)


def test_a_folder_abandoned_while_written_is_removed_when_new_ones_are_made(
    cache_home: Path, tmp_path: Path
) -> None:
    old, recent = cache_home / ".us-east-1.old", cache_home / ".us-east-1.recent"
    for folder in (old, recent):
        folder.mkdir(parents=True)
    an_hour_and_more = time.time() - tls.STAGING_LEFT_SECONDS - 60
    os.utime(old, (an_hour_and_more, an_hour_and_more))
    certificates("us-east-1", tmp_path / "run")
    assert not old.exists()
    assert recent.exists()  # perhaps a run writing them now


def test_a_cache_that_cannot_be_written_makes_them_for_the_run_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    made = certificates("us-east-1", tmp_path / "run")
    assert made.ca_path.parent == tmp_path / "run"
    verifies(made)


def test_kept_certificates_leave_cryptography_unloaded(tmp_path: Path) -> None:
    """What keeping them is for: a run that finds them doesn't load ``cryptography``."""
    certificates("us-east-1", tmp_path / "run")
    probe = (
        "import sys; from pathlib import Path; from emulator.tls import certificates; "
        f"certificates('us-east-1', Path({str(tmp_path / 'run2')!r})); "
        "print(sorted(m for m in sys.modules if m.startswith('cryptography')))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=os.environ
    ).stdout.strip()
    assert shown == "[]"
    assert tls.cache_dir() == tmp_path / "cache" / "ws-emulator" / "tls" / tls.FORMAT

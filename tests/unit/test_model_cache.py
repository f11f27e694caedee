"""The model cache: each service model file decoded once, until the file changes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from emulator import model_cache


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "ws-emulator" / "models"


def model_file(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "service-2.json"
    path.write_text(json.dumps(data))
    return path


def decoder(path: Path, calls: list[str]) -> Any:
    def decode() -> Any:
        calls.append(str(path))
        return json.loads(path.read_text())

    return decode


def refuse() -> Any:
    raise AssertionError("decoded again: the cache was not used")


def test_a_file_is_decoded_once(tmp_path: Path) -> None:
    """The second read comes from the cache, equal to the first."""
    path = model_file(tmp_path, {"shapes": {"A": {"type": "string"}}, "list": [1, 2.5, None]})
    calls: list[str] = []
    first = model_cache.load(str(path), decoder(path, calls))
    assert model_cache.load(str(path), refuse) == first
    assert calls == [str(path)]


def test_each_read_is_a_copy_of_its_own(tmp_path: Path) -> None:
    """A caller that changes what it read (moto merges its additions) changes no one else's."""
    path = model_file(tmp_path, {"shapes": {}})
    model_cache.load(str(path), decoder(path, []))
    mine = model_cache.load(str(path), refuse)
    mine["shapes"]["Mine"] = {}
    assert model_cache.load(str(path), refuse) == {"shapes": {}}


def test_a_changed_file_is_decoded_again(tmp_path: Path) -> None:
    """A file rewritten (another size or time: an upgrade) never reads a stale entry."""
    path = model_file(tmp_path, {"version": 1})
    model_cache.load(str(path), decoder(path, []))
    path.write_text(json.dumps({"version": 22}))
    os.utime(path, ns=(1, 2))
    assert model_cache.load(str(path), decoder(path, [])) == {"version": 22}


def test_an_unreadable_entry_is_decoded_again_and_rewritten(
    tmp_path: Path, cache_home: Path
) -> None:
    """A damaged entry costs one decoding, not a failure."""
    path = model_file(tmp_path, {"ok": True})
    model_cache.load(str(path), decoder(path, []))
    (entry,) = cache_home.glob("*.marshal")
    entry.write_bytes(b"\xff not marshal")
    calls: list[str] = []
    assert model_cache.load(str(path), decoder(path, calls)) == {"ok": True}
    assert calls == [str(path)]
    assert model_cache.load(str(path), refuse) == {"ok": True}


def test_a_cache_that_cannot_be_written_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache folder that can't be made (a file stands there) only costs the decoding."""
    blocked = tmp_path / "blocked"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    path = model_file(tmp_path, {"ok": 1})
    calls: list[str] = []
    assert model_cache.load(str(path), decoder(path, calls)) == {"ok": 1}
    assert model_cache.load(str(path), decoder(path, calls)) == {"ok": 1}
    assert len(calls) == 2


def test_a_shared_file_is_one_object(tmp_path: Path) -> None:
    """Two loaders reading the same file share one decoded copy, decoded once."""
    path = tmp_path / "shared" / "service-2.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"operations": {}}))
    calls: list[str] = []
    first = model_cache.load_shared(str(path), decoder(path, calls))
    assert model_cache.load_shared(str(path), refuse) is first
    assert calls == [str(path)]


@pytest.mark.parametrize(
    ("extras", "shared"),
    [
        (None, True),
        ("botocore/svc/2020-01-01/service-2.sdk-extras.json", False),
        ("moto/svc/2020-01-01/service-2.moto-extras.json.gz", False),
        ("moto/svc/2020-01-01/paginators-1.moto-extras.json.gz", True),
    ],
)
def test_a_model_with_extras_is_not_shared(
    tmp_path: Path, extras: str | None, shared: bool
) -> None:
    """A model some loader merges extras into (botocore's or moto's) stays each loader's own."""
    roots = [str(tmp_path / "botocore"), str(tmp_path / "moto")]
    model = tmp_path / "botocore" / "svc" / "2020-01-01" / "service-2.json.gz"
    model.parent.mkdir(parents=True)
    if extras is not None:
        (tmp_path / extras).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / extras).write_text("{}")
    assert model_cache.unextended(str(model), roots) is shared
    assert model_cache.unextended(str(tmp_path / "botocore" / "endpoints.json"), roots)

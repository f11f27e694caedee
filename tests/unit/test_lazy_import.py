"""A module registered to run on first use: importable and nameable before it runs, run
once when one of its names is asked for, by whichever thread asks first."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.lazy_import import after_import, on_first_use

SLOW = """
import time
from pathlib import Path

log = Path(__file__).with_name("runs.log")
log.write_text(log.read_text() + "ran\\n" if log.exists() else "ran\\n")
FIRST = 1
time.sleep(0.2)  # other threads ask while it runs
VALUE = 42
"""


@pytest.fixture
def package(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "lazypkg"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "slow.py").write_text(SLOW)
    (folder / "broken.py").write_text("raise RuntimeError('broken on purpose')\n")
    sys.path.insert(0, str(tmp_path))
    yield folder
    sys.path.remove(str(tmp_path))
    for name in [m for m in sys.modules if m.startswith("lazypkg")]:
        del sys.modules[name]


def test_the_module_runs_when_first_used_not_when_imported(package: Path) -> None:
    on_first_use("lazypkg.slow")
    import lazypkg.slow  # noqa: F401  # type: ignore[import-not-found]
    from lazypkg import slow  # type: ignore[import-not-found]

    assert not (package / "runs.log").exists()
    assert slow.VALUE == 42
    assert (package / "runs.log").read_text() == "ran\n"
    assert type(slow).__name__ == "module"  # an ordinary module from then on


def test_threads_asking_at_once_wait_for_one_run(package: Path) -> None:
    on_first_use("lazypkg.slow")
    import lazypkg.slow as slow

    seen: list[object] = []
    start = threading.Barrier(8)

    def ask() -> None:
        start.wait()
        seen.append(slow.VALUE)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [42] * 8  # none saw it half-run (FIRST set, VALUE not yet)
    assert (package / "runs.log").read_text() == "ran\n"


def test_a_module_that_fails_fails_as_an_import_would(package: Path) -> None:
    on_first_use("lazypkg.broken")
    import lazypkg.broken as broken  # type: ignore[import-not-found]

    with pytest.raises(RuntimeError, match="broken on purpose"):
        _ = broken.anything
    assert "lazypkg.broken" not in sys.modules
    with pytest.raises(RuntimeError, match="broken on purpose"):
        import lazypkg.broken  # noqa: F401


def test_an_imported_or_unknown_module_is_left_alone(package: Path) -> None:
    import lazypkg.slow as slow

    on_first_use("lazypkg.slow")
    on_first_use("lazypkg.missing")
    assert sys.modules["lazypkg.slow"] is slow
    assert "lazypkg.missing" not in sys.modules


def test_after_import_calls_back_once_the_module_has_run(package: Path) -> None:
    seen: list[object] = []
    after_import("lazypkg.slow", lambda module: seen.append(module.VALUE))
    assert seen == []
    import lazypkg.slow  # noqa: F401

    assert seen == [42]  # its code had run to the end
    after_import("lazypkg.slow", lambda module: seen.append(module.FIRST))  # imported: now
    assert seen == [42, 1]


def test_motos_iam_leaves_cryptography_x509_unrun_until_a_certificate_is_read() -> None:
    """What it is for: the control plane's moto, with a role created, holds no
    ``cryptography.x509`` until IAM reads a certificate (run alone: this process may
    have imported it already)."""
    probe = """
import sys
from emulator import moto_startup
moto_startup.install()
from moto.iam import models
print(type(sys.modules["cryptography.x509"]).__name__, "cryptography.x509.base" in sys.modules)
models.iam_backends["123456789012"]["global"].create_role(
    "r", "{}", "/", None, "", [], None
)
print(type(sys.modules["cryptography.x509"]).__name__, "cryptography.x509.base" in sys.modules)
print(models.x509.load_pem_x509_certificate.__name__)
print(type(sys.modules["cryptography.x509"]).__name__, "cryptography.x509.base" in sys.modules)
"""
    shown = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=os.environ
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split("\n")[:4] == [
        "_NotYetRun False",
        "_NotYetRun False",
        "load_pem_x509_certificate",
        "module True",
    ]

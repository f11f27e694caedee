"""The package's declarations agree with the pins this repository installs, and the docs."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "tests" / "fixtures" / "example-project"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def pins(name: str) -> dict[str, str]:
    """A requirements file's ``name==version`` lines, by canonical name."""
    found: dict[str, str] = {}
    for line in (ROOT / name).read_text().splitlines():
        if line.strip() and not line.startswith(("#", "-r ")):
            assert re.fullmatch(r"[\w.-]+==[\w.]+", line), f"{name}: {line!r} is not pinned"
            package, _, version = line.partition("==")
            found[canonicalize_name(package)] = version
    return found


def test_every_declared_dependency_is_pinned_within_its_range() -> None:
    """requirements.txt pins each of pyproject's dependencies to a version it accepts."""
    runtime = pins("requirements.txt")
    for text in PYPROJECT["project"]["dependencies"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in runtime, f"{requirement.name} is declared but not in requirements.txt"
        assert requirement.specifier.contains(runtime[name]), (text, runtime[name])
    dev = pins("requirements-dev.txt")
    extras = PYPROJECT["project"]["optional-dependencies"]
    for text in extras["pytest"] + extras["debug"]:
        requirement = Requirement(text)
        assert requirement.specifier.contains(dev[canonicalize_name(requirement.name)]), text


def test_dev_requirements_add_to_the_runtime_set_without_repinning_it() -> None:
    """requirements-dev.txt includes requirements.txt and pins only what it adds."""
    lines = (ROOT / "requirements-dev.txt").read_text().splitlines()
    assert "-r requirements.txt" in lines
    assert not set(pins("requirements.txt")) & set(pins("requirements-dev.txt"))


def test_the_build_backend_is_pinned() -> None:
    """[build-system] names one exact version of its backend."""
    (backend,) = PYPROJECT["build-system"]["requires"]
    assert re.fullmatch(r"[\w-]+==[\d.]+", backend), backend


def test_the_readme_shows_the_example_project_as_tested() -> None:
    """Each file of the example project that tests/e2e/test_package.py runs is in the
    harness's README (the package's long description)."""
    readme = (ROOT / "emulator" / "README.md").read_text()
    files = [p for p in EXAMPLE.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert len(files) == 4
    for path in files:
        assert path.read_text().strip() in readme, f"README lacks {path.relative_to(EXAMPLE)}"

"""Build each function's zip, as ``sam build`` would, byte for byte reproducible.

Two shapes of code:

- A function with a ``code`` directory gets that directory whole, plus the packages
  its ``requirements.txt`` names, installed with pip at the zip's root. Installs are
  cached by the requirements' hash, so only a changed file installs again. Nothing
  else is importable in the emulator's workers (Lambda's runtime adds only boto3 and
  botocore), so a dependency missing here fails locally as it would on AWS.
- A function without one gets the stack's ``source``: its entry module plus every
  package directory beside it (the chat's ``chat/``), so editing one handler changes
  one zip and editing the shared core changes them all.

The same files always give the same bytes (sorted entries, fixed times and modes), so
deploy compares hashes and leaves code that didn't change alone. So a zip is also kept
between runs, by what it is made of (``packages`` beside the dependencies' cache): a
start-up builds into a fresh folder, and compressing the chat's eighteen zips took a
fifth of a second each time.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from emulator import nodejs, template_cache
from emulator.stack import Function

REQUIREMENTS = "requirements.txt"
_EPOCH = (1980, 1, 1, 0, 0, 0)
_PIP_HEADLINE = "\u00d7"  # the mark before pip's summary of a failed step
_SKIPPED_DIRS = {"__pycache__", ".git", ".aws-sam", ".pytest_cache", ".mypy_cache"}
_ZIP_FORMAT = "1"  # part of a kept zip's name: change it when _zip's output changes
KEEP_ZIPS = 256  # zips kept between runs, the oldest removed first


class PackageError(Exception):
    """A function's code can't be packaged; the message says why and what to do."""


@dataclass(frozen=True)
class Package:
    path: Path
    data: bytes

    @property
    def sha256(self) -> str:
        """Base64 SHA-256, as Lambda reports ``CodeSha256``."""
        return base64.b64encode(hashlib.sha256(self.data).digest()).decode()


def default_cache_dir() -> Path:
    """Where installed dependencies are kept between runs (``XDG_CACHE_HOME`` honoured)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ws-emulator" / "dependencies"


def _walk(root: Path, skip: Path | None = None) -> Iterator[Path]:
    for path in sorted(root.iterdir()):
        if path.name in _SKIPPED_DIRS or path.suffix == ".pyc":
            continue
        if path.is_dir():
            if skip is None or path.resolve() != skip:
                yield from _walk(path, skip)
        elif path.is_file():
            yield path


def _module_files(source: Path, function: Function) -> dict[str, Path]:
    entry = source / f"{function.module.replace('.', '/')}.py"
    if not entry.is_file():
        raise PackageError(f"function {function.name}: handler {function.handler} needs {entry}")
    shared = [
        path
        for package in sorted(source.iterdir())
        if (package / "__init__.py").is_file()
        for path in _walk(package)
        if path.suffix == ".py"
    ]
    extra = [source / f"{module.replace('.', '/')}.py" for module in function.extra_modules]
    return {path.relative_to(source).as_posix(): path for path in {entry, *shared, *extra}}


def pip_failure(stdout: str, stderr: str) -> str:
    """What a failed ``pip install`` said, in one line: the requirement it was working on
    and its errors; for a package whose build failed, pip's headline and the build's own
    last line of output (pip's closing lines only say "See above")."""
    working = [
        line.strip()
        for line in stdout.splitlines()
        if line.startswith(("Collecting ", "Processing ", "Obtaining "))
    ]
    lines = [line.strip() for line in stderr.splitlines()]
    said = [line.removeprefix("ERROR: ") for line in lines if line.startswith("ERROR:")]
    if not said:
        headline = next(
            (line[1:].strip().rstrip(".") for line in lines if line[:1] == _PIP_HEADLINE), ""
        )
        output = lines[: lines.index("[end of output]")] if "[end of output]" in lines else []
        said = [headline, next((line for line in reversed(output) if line), "")]
    errors = "; ".join(text for text in dict.fromkeys(said) if text)
    return ": ".join(part for part in [*working[-1:], errors] if part)


def install_requirements(requirements: Path, cache_dir: Path) -> Path:
    """The packages a requirements file names, installed once into the cache."""
    digest = hashlib.sha256(
        requirements.read_bytes() + f"{sys.version_info[:2]}{sys.platform}".encode()
    ).hexdigest()[:24]
    target = cache_dir / digest
    if target.is_dir():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{digest}-", dir=cache_dir))
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--progress-bar",
        "off",
        "--disable-pip-version-check",
        "--no-input",
        "--no-warn-script-location",
        "--target",
        str(staging),
        "-r",
        str(requirements),
    ]
    result = subprocess.run(
        command, cwd=requirements.parent, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        reason = pip_failure(result.stdout, result.stderr) or f"pip exited with {result.returncode}"
        raise PackageError(f"pip could not install {requirements}: {reason}")
    try:
        staging.rename(target)
    except OSError:  # another build installed the same requirements meanwhile
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _files(function: Function, source: Path | None, skip: Path, cache_dir: Path) -> dict[str, Path]:
    if function.code is None:
        assert source is not None, "the stack checks that every function has code"
        return _module_files(source, function)
    files: dict[str, Path] = {}
    requirements = function.code / REQUIREMENTS
    if requirements.is_file() and not function.packaged:
        try:
            installed = install_requirements(requirements, cache_dir)
        except PackageError as exc:
            raise PackageError(f"function {function.name}: {exc}") from exc
        files.update({p.relative_to(installed).as_posix(): p for p in _walk(installed)})
    npm = nodejs.package_dependencies(function.code, cache_dir)
    if npm is not None:  # package.json's, installed as sam build does
        files.update({p.relative_to(npm).as_posix(): p for p in _walk(npm)})
    # The function's own files win over a dependency's of the same name.
    own = {p.relative_to(function.code).as_posix(): p for p in _walk(function.code, skip)}
    if npm is not None:  # the folder's own node_modules is not what deploys
        own = {name: p for name, p in own.items() if not name.startswith("node_modules/")}
    files.update(own)
    return files


def _fingerprint(files: dict[str, Path]) -> str:
    """What the zip is made of: each entry's name, size and modification time."""
    lines = []
    for arcname in sorted(files):
        stat = files[arcname].stat()
        lines.append(f"{arcname}\0{stat.st_size}\0{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _zip(files: dict[str, Path], executable: set[str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for arcname in sorted(files):
            info = zipfile.ZipInfo(arcname, date_time=_EPOCH)
            # A bootstrap stays executable.
            info.external_attr = (0o755 if arcname in executable else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[arcname].read_bytes())
    return buffer.getvalue()


def build(
    function: Function,
    name: str,
    out_dir: Path,
    source: Path | None = None,
    cache_dir: Path | None = None,
) -> Package:
    """The zip for one function, written to ``out_dir/<name>.zip`` when it changed.

    When no file changed since the last build into ``out_dir``, that zip is reused
    without being made again (a reload rebuilds only what was edited).
    """
    files = _files(function, source, out_dir.resolve(), cache_dir or default_cache_dir())
    path = out_dir / f"{name}.zip"
    stamp = out_dir / f"{name}.fingerprint"
    fingerprint = _fingerprint(files)
    if path.is_file() and stamp.is_file() and stamp.read_text() == fingerprint:
        return Package(path=path, data=path.read_bytes())
    executable = {arcname for arcname in files if os.access(files[arcname], os.X_OK)}
    kept_name = hashlib.sha256(
        f"{_ZIP_FORMAT}\0{fingerprint}\0{sorted(executable)}".encode()
    ).hexdigest()
    kept = (cache_dir or default_cache_dir()).parent / "packages" / f"{kept_name}.zip"
    try:
        data = kept.read_bytes()
    except OSError:
        data = _zip(files, executable)
        template_cache.keep_file(kept, data, KEEP_ZIPS)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)
    stamp.write_text(fingerprint)
    return Package(path=path, data=data)

"""Node.js for ``nodejs*.x`` functions: the machine's ``node``, Lambda's SDK, a function's npm deps.

- :func:`find_node`: the ``node`` on ``PATH`` and its major version.
- :func:`install_sdk`: what Lambda's Node.js runtimes provide beside a function's code,
  the AWS SDK for JavaScript v3 (``@aws-sdk/*``), pinned by ``emulator/js/sdk``'s
  ``package.json`` and lock file, installed once with ``npm ci`` into a cache (never
  into the user's folder). Workers find it because the folder above every function's
  unpacked code has a ``node_modules`` link to it (:func:`link_sdk`): Node's resolution,
  ``require`` and ESM ``import`` alike, walks up from the handler's file, past the
  function's own ``node_modules`` (which wins, as on Lambda), to it. Nothing else of
  the machine's is on that path, so a missing dependency fails as on AWS.
- :func:`install_dependencies`: a function's own ``package.json`` dependencies,
  installed for its package as ``sam build`` does (cached by the files' hash).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("emulator.runtimes")

JS_DIR = Path(__file__).with_name("js")
RUNTIME_CLIENT = JS_DIR / "runtime.mjs"
SDK_PINS = JS_DIR / "sdk"
PACKAGE_JSON = "package.json"
LOCK_FILES = ("package-lock.json", "npm-shrinkwrap.json")
_INSTALL_TIMEOUT = 600


class NodeError(Exception):
    """Node.js or npm can't do what a function needs; the message says what to do."""


@dataclass(frozen=True)
class Node:
    executable: Path
    version: str  # "20.20.2"

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


def find_node() -> Node | None:
    """The machine's ``node``, or None."""
    found = shutil.which("node")
    if found is None:
        return None
    try:
        done = subprocess.run(
            [found, "--version"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.fullmatch(r"v(\d+\.\d+\.\d+)\s*", done.stdout)
    if done.returncode != 0 or match is None:
        return None
    return Node(Path(found), match[1])


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ws-emulator"


def _npm(arguments: list[str], cwd: Path, what: str) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise NodeError(f"{what} needs npm, which is not installed (e.g. apt-get install npm)")
    command = [npm, *arguments, "--no-audit", "--no-fund", "--loglevel=error"]
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=_INSTALL_TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise NodeError(f"{what}: npm took over {_INSTALL_TIMEOUT} s") from exc
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        reason = next((line for line in lines if "ERR" in line and "code" not in line), None)
        raise NodeError(
            f"{what}: npm failed: {reason or (lines[-1] if lines else done.returncode)}"
        )


def _install_once(files: dict[str, bytes], target: Path, arguments: list[str], what: str) -> Path:
    """Write ``files`` into a staging folder, run npm there, and keep it as ``target``."""
    if (target / "node_modules").is_dir():
        return target
    log.info("  %s (once, into %s)…", what[0].upper() + what[1:], target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        for name, data in files.items():
            (staging / name).write_bytes(data)
        _npm(arguments, staging, what)
        if not (staging / "node_modules").is_dir():
            (staging / "node_modules").mkdir()
        staging.rename(target)
    except OSError:
        if not (target / "node_modules").is_dir():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def install_sdk(cache_dir: Path | None = None) -> Path:
    """The pinned AWS SDK for JavaScript v3's ``node_modules`` folder, installed once."""
    files = {name: (SDK_PINS / name).read_bytes() for name in ("package.json", "package-lock.json")}
    digest = hashlib.sha256(b"".join(files.values())).hexdigest()[:16]
    target = (cache_dir or cache_root() / "nodejs-sdk") / digest
    what = "installing the AWS SDK for JavaScript v3 for nodejs functions"
    return _install_once(files, target, ["ci", "--omit=dev"], what) / "node_modules"


def link_sdk(code_dir: Path, sdk: Path) -> None:
    """Make ``sdk`` resolvable from ``code_dir``: a ``node_modules`` link in its parent."""
    link = code_dir.parent / "node_modules"
    if link.is_symlink() and link.resolve() == sdk.resolve():
        return
    if link.is_symlink():
        link.unlink()
    elif link.exists():
        return  # a folder of the user's own: leave it be
    with contextlib.suppress(FileExistsError):  # another worker made it meanwhile
        link.symlink_to(sdk, target_is_directory=True)


def declares_dependencies(code: Path) -> bool:
    """Whether ``code`` has a package.json with dependencies to install."""
    manifest = code / PACKAGE_JSON
    if not manifest.is_file():
        return False
    try:
        data = json.loads(manifest.read_text())
    except ValueError as exc:
        raise NodeError(f"{manifest}: not valid JSON ({exc})") from exc
    return bool(isinstance(data, dict) and data.get("dependencies"))


def package_dependencies(code: Path, cache_dir: Path) -> Path | None:
    """For :mod:`emulator.package`: the folder whose files go into the package (its
    ``node_modules``), or None; failures are a PackageError naming the function's code."""
    from emulator.package import PackageError

    try:
        return install_dependencies(code, cache_dir)
    except NodeError as exc:
        raise PackageError(str(exc)) from exc


def install_dependencies(code: Path, cache_dir: Path) -> Path | None:
    """A function's ``package.json`` dependencies (production only), installed once.

    Returns the folder holding ``node_modules`` to add to the function's package, or
    None when there is nothing to install. As ``sam build`` does, the dependencies come
    from ``package.json`` (and its lock file, with ``npm ci``), not from a
    ``node_modules`` already in the folder; a ``sam build`` output is taken as built.
    """
    if not declares_dependencies(code) or ".aws-sam" in code.parts:
        return None
    files = {PACKAGE_JSON: (code / PACKAGE_JSON).read_bytes()}
    lock = next((name for name in LOCK_FILES if (code / name).is_file()), None)
    if lock is not None:
        files[lock] = (code / lock).read_bytes()
    node = find_node()
    salt = f"node{node.major if node else ''}".encode()
    digest = hashlib.sha256(b"\0".join([*files.values(), salt])).hexdigest()[:24]
    arguments = ["ci", "--omit=dev"] if lock else ["install", "--omit=dev", "--no-package-lock"]
    what = f"installing {code / PACKAGE_JSON}'s dependencies"
    return _install_once(files, cache_dir / f"npm-{digest}", arguments, what)

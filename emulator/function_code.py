"""Where a function's code is on disk, however the tool that packaged it left it there.

Every path is relative to the template's folder, and the first of these that the
function has is its code:

1. a CDK asset: ``aws:asset:path`` in the resource's ``Metadata`` (``cdk synth`` copies
   the code to ``cdk.out/asset.<hash>``, a folder or a zip file);
2. a local ``CodeUri`` (SAM; a folder, or a zip file such as Chalice's
   ``./deployment.zip``) or ``Code`` given as a path (as ``aws cloudformation package``
   takes it);
3. ``Code: {S3Bucket, S3Key}`` whose key's file name is a zip beside the template (the
   Serverless Framework's ``.serverless/<service>.zip``);
4. inline ``Code: {ZipFile: …}``, written to ``index.py`` (``index.js`` for Node.js), as
   CloudFormation does.

A container image (``Code.ImageUri``, ``PackageType: Image``) is refused: the emulator
runs zip functions only. Code that is only in S3 is an error that says where it was
looked for and which command leaves it on disk. A zip is unpacked into a folder named
after its content, so the same zip is unpacked once however many functions share it.

The code is *packaged* (already what Lambda gets, so its ``requirements.txt`` is not
installed again) when it comes from a zip, a CDK asset or inline code, or when ``sam
build`` wrote the template.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

INLINE_FILE = "index.py"  # where CloudFormation puts a Python function's ZipFile code
INLINE_NODE_FILE = "index.js"  # and a Node.js function's
PACKAGERS = "`cdk synth` (CDK), `serverless package` (Serverless Framework) or `sam build` (SAM)"


class CodeError(ValueError):
    """A function's code can't be found or read; the message says what to do."""


@dataclass(frozen=True)
class Code:
    """A function's code as a folder, and whether it is already packaged as Lambda gets it."""

    folder: Path
    packaged: bool
    archive: Path | None = None  # the zip the folder was unpacked from


def locate(
    code: Any,
    metadata: Mapping[str, Any],
    *,
    base: Path,
    unpack_dir: Path,
    local: Path | None = None,
    image: bool = False,
    built: bool = False,
    runtime: str = "",
) -> Code:
    """The code of a function whose (resolved) ``Code`` property and ``Metadata`` are given.

    ``local`` is its ``CodeUri`` when SAM's expansion carried one across; ``image`` says
    its ``PackageType`` is ``Image``; ``built`` that ``sam build`` wrote the template;
    ``runtime`` (its ``Runtime``) names the file inline code goes to.
    """
    if image or (isinstance(code, Mapping) and "ImageUri" in code):
        raise CodeError(
            "its code is a container image (ImageUri); container images are out of scope: "
            "the emulator runs functions packaged as a zip file or a folder"
        )
    asset = metadata.get("aws:asset:path")
    if isinstance(asset, str) and metadata.get("aws:asset:property", "Code") == "Code":
        return _on_disk(base / asset, f"CDK asset {asset}", True, unpack_dir, "`cdk synth`")
    if local is not None:
        return _on_disk(local, "CodeUri", built, unpack_dir)
    if isinstance(code, str) and not code.startswith("s3://"):
        return _on_disk(base / code, "Code", built, unpack_dir)
    if isinstance(code, Mapping) and "ZipFile" in code:
        name = INLINE_NODE_FILE if runtime.startswith("nodejs") else INLINE_FILE
        return _inline(str(code["ZipFile"]), name, unpack_dir)
    if isinstance(code, Mapping) and isinstance(code.get("S3Key"), str):
        beside = base / PurePosixPath(code["S3Key"]).name
        if beside.is_file():
            return _on_disk(beside, "Code", True, unpack_dir)
        raise CodeError(
            f"its code is in S3 (s3://{code.get('S3Bucket')}/{code['S3Key']}), and not on "
            f"disk: no CDK asset in its Metadata, and no {beside.name} beside the template. "
            f"Package the project with {PACKAGERS}, and serve the template that writes"
        )
    if isinstance(code, str):
        raise CodeError(
            f"its code is in S3 ({code}), and not on disk. Package the project with "
            f"{PACKAGERS}, and serve the template that writes"
        )
    raise CodeError("it has no code: give it CodeUri (SAM), or Code (a folder, a zip or ZipFile)")


def _on_disk(
    path: Path, what: str, packaged: bool, unpack_dir: Path, again: str | None = None
) -> Code:
    path = path.resolve()
    if path.is_dir():
        return Code(path, packaged)
    if path.is_file():
        return Code(unpack(path, unpack_dir), packaged=True, archive=path)
    hint = f": run {again} again" if again else ""
    raise CodeError(f"its {what} ({path}) does not exist{hint}")


def _inline(source: str, name: str, unpack_dir: Path) -> Code:
    digest = hashlib.sha256(f"{name}\n{source}".encode()).hexdigest()[:16]
    folder = unpack_dir / "inline" / digest
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(source)
    return Code(folder, packaged=True)


def unpack(archive: Path, unpack_dir: Path) -> Path:
    """A zip file's content as a folder under ``unpack_dir``, unpacked once per content.

    File modes stored in the zip (an executable ``bootstrap``) are kept. Raises
    CodeError for a file that isn't a zip, or whose entries would land outside it.
    """
    data = archive.read_bytes()
    target = unpack_dir / "zips" / hashlib.sha256(data).hexdigest()[:16]
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as bundle:
            for entry in bundle.infolist():
                parts = PurePosixPath(entry.filename).parts
                if entry.filename.startswith("/") or ".." in parts:
                    raise CodeError(f"{archive}: entry {entry.filename!r} points outside the zip")
            bundle.extractall(staging)
            for entry in bundle.infolist():
                mode = entry.external_attr >> 16 & 0o777
                if mode and not entry.is_dir():
                    (staging / entry.filename).chmod(mode | 0o400)
        staging.rename(target)
    except zipfile.BadZipFile as exc:
        raise CodeError(f"{archive} is neither a folder nor a zip file") from exc
    except OSError as exc:
        if not target.is_dir():  # else another load unpacked the same zip meanwhile
            raise CodeError(f"{archive} could not be unpacked into {unpack_dir}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target

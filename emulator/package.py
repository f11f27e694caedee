"""Build each function's zip: its entry module plus the shared packages beside it.

A function's zip holds its own ``<module>.py`` and every package directory of the
source (``chat/`` here), so editing one handler changes one zip and editing the core
changes them all. The same sources always give the same bytes (sorted entries, fixed
timestamps and modes), so deploy compares hashes and skips code that didn't change.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from scripts.stack import BUILD_DIR, Function

_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Package:
    path: Path
    data: bytes

    @property
    def sha256(self) -> str:
        """Base64 SHA-256, as Lambda reports ``CodeSha256``."""
        return base64.b64encode(hashlib.sha256(self.data).digest()).decode()


def _files(source: Path, function: Function) -> list[Path]:
    entry = source / f"{function.module.replace('.', '/')}.py"
    if not entry.is_file():
        raise FileNotFoundError(f"{function.handler}: no {entry}")
    shared = [
        path
        for package in sorted(source.iterdir())
        if (package / "__init__.py").is_file()
        for path in package.rglob("*.py")
        if "__pycache__" not in path.parts
    ]
    extra = [source / f"{module.replace('.', '/')}.py" for module in function.extra_modules]
    return sorted({entry, *shared, *extra})


def build(source: Path, function: Function, name: str, out_dir: Path = BUILD_DIR) -> Package:
    """The zip for one function, written to ``out_dir/<name>.zip`` when it changed."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in _files(source, function):
            info = zipfile.ZipInfo(path.relative_to(source).as_posix(), date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    data = buffer.getvalue()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.zip"
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)
    return Package(path=path, data=data)

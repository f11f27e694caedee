"""Build the Lambda zip: every ``.py`` under ``handlers/``, byte-for-byte reproducible.

The same sources always give the same bytes (sorted entries, fixed timestamps and
modes), so deploy can compare hashes and skip code updates that change nothing.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from scripts.stack import BUILD_DIR, HANDLERS_DIR

_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Package:
    path: Path
    data: bytes

    @property
    def sha256(self) -> str:
        """Base64 SHA-256, as Lambda reports ``CodeSha256``."""
        return base64.b64encode(hashlib.sha256(self.data).digest()).decode()


def build(source: Path = HANDLERS_DIR, out_dir: Path = BUILD_DIR) -> Package:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(source.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            info = zipfile.ZipInfo(path.relative_to(source).as_posix(), date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    data = buffer.getvalue()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "chat-handlers.zip"
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)
    return Package(path=path, data=data)

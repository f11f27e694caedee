"""Finding a function's code where each packaging tool leaves it, and refusing what can't run."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path
from typing import Any

import pytest

from emulator.function_code import INLINE_FILE, INLINE_NODE_FILE, CodeError, locate, unpack


def make_zip(path: Path, files: dict[str, str], modes: dict[str, int] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as bundle:
        for name, text in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (modes or {}).get(name, 0o644) << 16
            bundle.writestr(info, text)
    return path


def find(tmp_path: Path, code: Any, metadata: dict[str, Any] | None = None, **options: Any) -> Any:
    return locate(code, metadata or {}, base=tmp_path, unpack_dir=tmp_path / "work", **options)


def test_a_folder_is_the_code_and_its_requirements_are_still_to_install(tmp_path: Path) -> None:
    """A source folder (SAM CodeUri, Code as a path) is used in place, not packaged."""
    (tmp_path / "src").mkdir()
    code = find(tmp_path, "src")
    assert code.folder == (tmp_path / "src").resolve()
    assert not code.packaged
    assert find(tmp_path, None, local=tmp_path / "src").folder == code.folder


def test_a_sam_build_folder_is_packaged(tmp_path: Path) -> None:
    """In a template sam build wrote, a folder already holds its dependencies."""
    (tmp_path / "Fn").mkdir()
    assert find(tmp_path, None, local=tmp_path / "Fn", built=True).packaged


def test_a_zip_code_uri_is_unpacked_once(tmp_path: Path) -> None:
    """Chalice's CodeUri ./deployment.zip: unpacked into a folder named after its content,
    once for every function that shares it; it is packaged (no install)."""
    archive = make_zip(tmp_path / "deployment.zip", {"app.py": "x = 1\n", "lib/m.py": ""})
    first = find(tmp_path, None, local=archive)
    second = find(tmp_path, None, local=archive)
    assert first == second
    assert first.packaged
    assert (first.folder / "app.py").read_text() == "x = 1\n"
    assert (first.folder / "lib" / "m.py").is_file()
    assert first.folder.is_relative_to(tmp_path / "work")


def test_a_changed_zip_gets_a_folder_of_its_own(tmp_path: Path) -> None:
    """Packaging again gives a new folder, so a reload never mixes two zips' files."""
    archive = make_zip(tmp_path / "code.zip", {"app.py": "old"})
    old = find(tmp_path, "code.zip").folder
    make_zip(archive, {"app.py": "new"})
    new = find(tmp_path, "code.zip").folder
    assert old != new
    assert (old / "app.py").read_text() == "old"
    assert (new / "app.py").read_text() == "new"


def test_the_serverless_zip_beside_the_template(tmp_path: Path) -> None:
    """Code in S3 whose key's file name is beside the template (.serverless/) is that zip."""
    make_zip(tmp_path / "svc.zip", {"handler.py": "def connect(e, c): pass\n"})
    code = find(tmp_path, {"S3Bucket": "deploys", "S3Key": "serverless/svc/dev/1-2/svc.zip"})
    assert (code.folder / "handler.py").is_file()
    assert code.packaged


def test_cdk_assets_folder_and_zip(tmp_path: Path) -> None:
    """aws:asset:path names the code, a folder or a zip file, whatever the S3 location says."""
    (tmp_path / "asset.abc").mkdir()
    (tmp_path / "asset.abc" / "connect.py").write_text("")
    make_zip(tmp_path / "asset.def.zip", {"broadcast.py": ""})
    s3 = {"S3Bucket": "cdk-hnb659fds-assets-1-us-east-1", "S3Key": "abc.zip"}
    folder = find(tmp_path, s3, {"aws:asset:path": "asset.abc", "aws:asset:property": "Code"})
    assert folder.folder == (tmp_path / "asset.abc").resolve()
    assert folder.packaged  # CDK uploads the folder as it is
    archive = find(tmp_path, s3, {"aws:asset:path": "asset.def.zip"})
    assert (archive.folder / "broadcast.py").is_file()


def test_inline_code_is_index_py(tmp_path: Path) -> None:
    """Code.ZipFile is written to index.py, as CloudFormation does for Python."""
    code = find(tmp_path, {"ZipFile": "def handler(e, c):\n    return 1\n"})
    assert (code.folder / INLINE_FILE).read_text() == "def handler(e, c):\n    return 1\n"
    assert code.packaged


def test_inline_node_code_is_index_js(tmp_path: Path) -> None:
    """Code.ZipFile of a Node.js function is written to index.js, as CloudFormation does."""
    source = "exports.handler = async () => ({ statusCode: 200 });\n"
    code = find(tmp_path, {"ZipFile": source}, runtime="nodejs20.x")
    assert (code.folder / INLINE_NODE_FILE).read_text() == source
    assert not (code.folder / INLINE_FILE).exists()


@pytest.mark.parametrize(
    ("code", "metadata", "options", "message"),
    [
        (
            {"ImageUri": "1.dkr.ecr.us-east-1.amazonaws.com/app:latest"},
            {},
            {},
            "container image .*container images are out of scope",
        ),
        (None, {}, {"image": True}, "container images are out of scope"),
        (
            {"S3Bucket": "cdk-assets", "S3Key": "abc.zip"},
            {"aws:asset:path": "asset.gone"},
            {},
            r"CDK asset asset.gone \(.*asset.gone\) does not exist: run `cdk synth` again",
        ),
        (
            {"S3Bucket": "artifacts", "S3Key": "builds/fn.zip"},
            {},
            {},
            r"in S3 \(s3://artifacts/builds/fn.zip\), and not on disk: no CDK asset in its "
            r"Metadata, and no fn.zip beside the template.*`cdk synth`.*`serverless "
            r"package`.*`sam build`",
        ),
        ("s3://artifacts/fn.zip", {}, {}, r"in S3 \(s3://artifacts/fn.zip\).*`sam build`"),
        ("missing", {}, {}, r"its Code \(.*missing\) does not exist"),
        (None, {}, {}, "it has no code"),
    ],
)
def test_code_that_is_not_on_disk_is_refused_with_advice(
    tmp_path: Path, code: Any, metadata: dict[str, Any], options: dict[str, Any], message: str
) -> None:
    """Each refusal says what was looked for and what to run or change."""
    with pytest.raises(CodeError, match=message):
        find(tmp_path, code, metadata, **options)


def test_a_file_that_is_not_a_zip_is_refused(tmp_path: Path) -> None:
    """A code path that is a file but no zip says so."""
    (tmp_path / "app.py").write_text("")
    with pytest.raises(CodeError, match="is neither a folder nor a zip file"):
        find(tmp_path, "app.py")


def test_a_zip_entry_outside_the_zip_is_refused(tmp_path: Path) -> None:
    """An entry like ../x would land outside the unpacked folder: refused, nothing kept."""
    archive = make_zip(tmp_path / "evil.zip", {"ok.py": "", "../escape.py": ""})
    with pytest.raises(CodeError, match=r"'\.\./escape\.py' points outside the zip"):
        unpack(archive, tmp_path / "work")
    assert not (tmp_path / "escape.py").exists()
    assert list((tmp_path / "work" / "zips").iterdir()) == []


def test_unpacking_keeps_the_executable_bit(tmp_path: Path) -> None:
    """A zip's file modes are kept (a custom runtime's bootstrap must stay executable)."""
    archive = make_zip(tmp_path / "f.zip", {"bootstrap": "#!/bin/sh\n"}, {"bootstrap": 0o755})
    folder = unpack(archive, tmp_path / "work")
    assert (folder / "bootstrap").stat().st_mode & stat.S_IXUSR

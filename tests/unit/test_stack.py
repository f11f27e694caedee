"""The stack description: names, defaults, and a clear error for every mistake."""

from __future__ import annotations

import hashlib
import sys
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from emulator import package
from emulator.stack import (
    DEFAULT_MEMORY,
    DEFAULT_TIMEOUT,
    Authorizer,
    Function,
    Index,
    Route,
    Stack,
    StackError,
    Table,
    Throttle,
)


def stack(tmp_path: Path, **changes: Any) -> Stack:
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    base = Stack(
        name="app",
        functions=(Function("main", "app.handler", routes=(Route("$default"),), code=code),),
        tables=(Table(name="items", hash_key="id", env_var="ITEMS"),),
    )
    return replace(base, **changes)


def test_functions_get_lambdas_defaults_and_their_environment(tmp_path: Path) -> None:
    """3 s and 128 MB unless told; tables' variables, then the function's own."""
    app = stack(tmp_path)
    (fn,) = app.functions
    assert (fn.timeout, fn.memory) == (DEFAULT_TIMEOUT, DEFAULT_MEMORY) == (3, 128)
    own = replace(fn, environment=(("MODE", "fast"), ("ITEMS", "override")))
    assert stack(tmp_path, functions=(own,)).environment(own) == {
        "ITEMS": "override",
        "MODE": "fast",
    }
    assert app.environment(fn) == {"ITEMS": "items"}


def test_one_function_may_serve_several_routes(tmp_path: Path) -> None:
    """route_function maps every route key to the function that serves it."""
    (fn,) = stack(tmp_path).functions
    multi = replace(fn, routes=(Route("$connect"), Route("say", two_way=True), Route("$default")))
    served = stack(tmp_path, functions=(multi,)).route_function()
    assert set(served) == {"$connect", "say", "$default"}
    assert served["say"] == (multi, Route("say", two_way=True))


def test_prefix_names_every_resource(tmp_path: Path) -> None:
    """A prefix keeps two copies apart: tables, functions, role, API, buckets."""
    app = stack(tmp_path, prefix="dev", buckets=("files",))
    assert app.table_name(app.tables[0]) == "dev-items"
    assert app.function_name(app.functions[0]) == "dev-app-main"
    assert (app.role_name, app.api_name, app.bucket("files")) == (
        "dev-app-lambda-us-east-1",
        "dev-app-websocket",
        "dev-files",
    )


def _function(tmp_path: Path, **changes: Any) -> Function:
    return replace(stack(tmp_path).functions[0], **changes)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: {"prefix": "Bad"}, "prefix 'Bad'"),
        (lambda p: {"stage": "no spaces"}, "stage 'no spaces'"),
        (lambda p: {"region": "moon-1"}, "region 'moon-1'"),
        (lambda p: {"functions": ()}, "no functions"),
        (lambda p: {"route_selection_expression": "action"}, r"routes on \$request.body"),
        (lambda p: {"tables": (Table(name="x", hash_key="id"),)}, "3-255 letters"),
        (
            lambda p: {"tables": (Table(name="tab", hash_key="id", key_types=(("id", "X"),)),)},
            "type 'X'; DynamoDB keys are S",
        ),
        (
            lambda p: {"tables": (Table(name="tab", hash_key="id", key_types=(("nope", "N"),)),)},
            "'nope' has a type but is no key",
        ),
        (
            lambda p: {
                "tables": (
                    Table(
                        name="tab", hash_key="id", indexes=(Index("l", "other", "r", local=True),)
                    ),
                )
            },
            "local index 'l' must have the table's hash key",
        ),
        (
            lambda p: {
                "tables": (Table(name="tab", hash_key="a"), Table(name="tab", hash_key="b"))
            },
            "two tables are named 'tab'",
        ),
        (lambda p: {"functions": (_function(p, handler="nodots"),)}, "must be 'module.function'"),
        (lambda p: {"functions": (_function(p, timeout=901),)}, "timeout must be 1-900"),
        (lambda p: {"functions": (_function(p, memory=64),)}, "memory must be 128-10240"),
        (lambda p: {"functions": (_function(p, runtime=""),)}, "needs a runtime"),
        (
            lambda p: {"functions": (_function(p, runtime="nodejs20.x", handler="a b.c"),)},
            "handler 'a b.c' must be 1-128 characters, no spaces",
        ),
        (
            lambda p: {"functions": (_function(p, environment=(("1BAD", "x"),)),)},
            "environment variable '1BAD'",
        ),
        (
            lambda p: {
                "functions": (_function(p, environment=(("AWS_LAMBDA_RUNTIME_API", "x"),)),)
            },
            "AWS_LAMBDA_RUNTIME_API is reserved by Lambda",
        ),
        (
            lambda p: {"functions": (_function(p, code=p / "missing"),)},
            "code directory .* does not exist",
        ),
        (lambda p: {"functions": (_function(p, code=None),)}, "has no code"),
        (
            lambda p: {"functions": (_function(p, routes=(Route("$weird"),)),)},
            "only route keys starting with '\\$'",
        ),
        (
            lambda p: {"functions": (_function(p), _function(p, name="other"))},
            "two routes are named '\\$default'",
        ),
        (
            lambda p: {"authorizer": Authorizer("a", _function(p, name="auth", routes=()), ("x",))},
            "no function serves \\$connect",
        ),
        (lambda p: {"buckets": ("Upper_Case",)}, "bucket 'Upper_Case'"),
        (lambda p: {"throttle": Throttle(-1, 5)}, "throttling burst and rate must be 0 or more"),
    ],
)
def test_every_mistake_is_a_clear_stack_error(tmp_path: Path, change: Any, message: str) -> None:
    """What AWS would refuse is refused here first, naming the part that is wrong."""
    with pytest.raises(StackError, match=message):
        stack(tmp_path, **change(tmp_path))


def _entries(data: bytes, tmp_path: Path) -> dict[str, bytes]:
    path = tmp_path / "check.zip"
    path.write_bytes(data)
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_a_code_folder_is_zipped_whole_with_its_dependencies(tmp_path: Path) -> None:
    """The folder's files and the installed requirements, both at the zip's root; an
    install already in the cache is used as it is (pip is not run again)."""
    code = tmp_path / "code"
    (code / "lib").mkdir(parents=True)
    (code / "app.py").write_text("import helper\n")
    (code / "lib" / "util.py").write_text("X = 1\n")
    (code / "__pycache__").mkdir()
    (code / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"junk")
    # A requirement pip could never install offline: only the cache can satisfy it.
    requirements = code / package.REQUIREMENTS
    requirements.write_text("--no-index\nnot-a-real-package==9.9.9\n")
    digest = hashlib.sha256(
        requirements.read_bytes() + f"{sys.version_info[:2]}{sys.platform}".encode()
    ).hexdigest()[:24]
    cached = tmp_path / "cache" / digest
    cached.mkdir(parents=True)
    (cached / "helper.py").write_text("VALUE = 'from the cache'\n")
    function = Function("main", "app.handler", code=code)
    built = package.build(function, "main", tmp_path / "build", cache_dir=tmp_path / "cache")
    entries = _entries(built.data, tmp_path)
    assert set(entries) == {"app.py", "lib/util.py", "helper.py", "requirements.txt"}
    assert entries["helper.py"] == b"VALUE = 'from the cache'\n"
    again = package.build(function, "again", tmp_path / "build", cache_dir=tmp_path / "cache")
    assert again.sha256 == built.sha256


def test_a_zip_is_kept_between_runs_until_a_file_changes(tmp_path: Path) -> None:
    """A build into a fresh folder reuses the zip kept from an earlier run of the same
    files (whatever that zip holds: it is not made again); a changed file makes a new one."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("X = 1\n")
    function = Function("main", "app.handler", code=code)
    cache = tmp_path / "deps"
    first = package.build(function, "main", tmp_path / "run1", cache_dir=cache)
    (kept,) = (tmp_path / "packages").glob("*.zip")
    assert kept.read_bytes() == first.data
    kept.write_bytes(b"kept")  # what the next run reads, if it reads the kept zip
    assert package.build(function, "main", tmp_path / "run2", cache_dir=cache).data == b"kept"
    (code / "app.py").write_text("X = 22\n")
    changed = package.build(function, "main", tmp_path / "run3", cache_dir=cache)
    assert _entries(changed.data, tmp_path)["app.py"] == b"X = 22\n"


def test_requirements_pip_cannot_install_are_one_clear_error(tmp_path: Path) -> None:
    """A failed install names the function, the file and pip's reason; nothing is cached."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("")
    (code / package.REQUIREMENTS).write_text("--no-index\nnot-a-real-package==9.9.9\n")
    function = Function("main", "app.handler", code=code)
    with pytest.raises(package.PackageError) as failed:
        package.build(function, "main", tmp_path / "build", cache_dir=tmp_path / "cache")
    message = str(failed.value)
    assert message.startswith("function main: pip could not install")
    assert "not-a-real-package" in message
    assert "\n" not in message
    assert [p for p in (tmp_path / "cache").iterdir() if not p.name.startswith(".")] == []

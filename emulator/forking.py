"""Python workers forked from a preloaded template process, one per interpreter.

The template process (:func:`emulator.worker.template`) imports boto3 and loads the
models WebSocket handlers use once; each worker is a fork of it, started warm and
sharing those pages until it writes to them. Linux only (pidfds and SCM_RIGHTS):
:func:`can_fork` says whether this machine can.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
from pathlib import Path

RESULT_LIMIT = 6 * 1024 * 1024  # Lambda's synchronous response limit
STREAM_LIMIT = RESULT_LIMIT + 1024 * 1024


def can_fork() -> bool:
    """Forked workers need Linux's pidfds to see their end."""
    return hasattr(os, "pidfd_open") and hasattr(socket, "send_fds")


class Forked:
    """A worker the template process forked, with what the runner needs of a process.

    It is the template's child, not ours: its end is seen through a pidfd (readable once
    it has exited), and its exit status is not known (``returncode`` is -1 after it).
    """

    def __init__(
        self,
        pid: int,
        stdin: asyncio.StreamWriter,
        stdout: asyncio.StreamReader,
        stderr: asyncio.StreamReader,
    ) -> None:
        self.pid = pid
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.returncode: int | None = None
        self._exited = asyncio.get_running_loop().create_future()
        self._pidfd = os.pidfd_open(pid)
        asyncio.get_running_loop().add_reader(self._pidfd, self._on_exit)

    def _on_exit(self) -> None:
        asyncio.get_running_loop().remove_reader(self._pidfd)
        os.close(self._pidfd)
        self.returncode = -1
        if not self._exited.done():
            self._exited.set_result(None)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    async def wait(self) -> int:
        await self._exited
        return -1


class Template:
    """The template process: boto3 and its models loaded once, workers forked from it."""

    def __init__(self, command: list[str]) -> None:
        self._command = command
        self._process: asyncio.subprocess.Process | None = None
        self._channel: socket.socket | None = None
        self._lock = asyncio.Lock()

    async def _start(self) -> socket.socket:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._process = await asyncio.create_subprocess_exec(
            *self._command,
            "--template",
            str(theirs.fileno()),
            pass_fds=(theirs.fileno(),),
            stdin=asyncio.subprocess.DEVNULL,
            env=PROCESS_ENV | {"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            start_new_session=True,
        )
        theirs.close()
        self._channel = ours
        return ours

    async def fork(self, cwd: Path, environment: dict[str, str]) -> Forked:
        """A new worker in ``cwd`` with exactly ``environment``."""
        loop = asyncio.get_running_loop()
        pipes = [os.pipe() for _ in range(3)]  # stdin, stdout, stderr
        theirs = [pipes[0][0], pipes[1][1], pipes[2][1]]
        ours = [pipes[0][1], pipes[1][0], pipes[2][0]]
        request = json.dumps({"cwd": str(cwd), "environment": environment}).encode() + b"\n"
        try:
            async with self._lock:
                channel = self._channel or await self._start()
                pid = await asyncio.to_thread(_ask_template, channel, request, theirs)
        finally:
            for fd in theirs:
                os.close(fd)
        stdin_transport, stdin_protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, os.fdopen(ours[0], "wb", buffering=0)
        )
        stdin = asyncio.StreamWriter(stdin_transport, stdin_protocol, None, loop)
        readers = [await read_pipe(loop, fd) for fd in ours[1:]]
        return Forked(pid, stdin, readers[0], readers[1])

    async def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()


async def read_pipe(loop: asyncio.AbstractEventLoop, fd: int) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=STREAM_LIMIT)
    protocol = asyncio.StreamReaderProtocol(reader)
    await loop.connect_read_pipe(lambda: protocol, os.fdopen(fd, "rb", buffering=0))
    return reader


def _ask_template(channel: socket.socket, request: bytes, fds: list[int]) -> int:
    socket.send_fds(channel, [request], fds)
    answer = b""
    while not answer.endswith(b"\n"):
        chunk = channel.recv(64)
        if not chunk:
            raise ConnectionError("the template process has gone")
        answer += chunk
    return int(answer)


# What every process the runner starts has: the template process has only this (and
# PATH); each worker has this too, beside its function's environment and Lambda's.
PROCESS_ENV = {
    "LANG": "en_US.UTF-8",
    "TZ": ":UTC",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
}

"""Which worker made an ``@connections`` request: looked up in a /proc laid out on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.inspector import callers
from emulator.inspector.callers import Callers

SERVER_PORT = 4443


class Client:
    """What the lookup reads of a TCP connection: its two ends."""

    def __init__(self, port: int) -> None:
        self.port = port

    def get_extra_info(self, name: str) -> tuple[str, int]:
        return ("127.0.0.1", self.port) if name == "peername" else ("127.0.0.1", SERVER_PORT)


@pytest.fixture
def proc(tmp_path: Path) -> Path:
    """Three sockets to the server (client ports 5001-5003), two processes holding two."""
    (tmp_path / "net").mkdir()
    lines = ["  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid"]
    for n, port in enumerate((5001, 5002, 5003)):
        lines.append(
            f"   {n}: 0100007F:{port:04X} 0100007F:{SERVER_PORT:04X} 01 00000000:00000000"
            f" 00:00000000 00000000     0        0 {900 + n} 1 0000000000000000"
        )
    (tmp_path / "net" / "tcp").write_text("\n".join(lines) + "\n")
    for pid, inode in ((11, 900), (12, 901)):
        fd = tmp_path / str(pid) / "fd"
        fd.mkdir(parents=True)
        (fd / "0").symlink_to("/dev/null")
        (fd / "7").symlink_to(f"socket:[{inode}]")
    return tmp_path


@pytest.fixture
def searches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per read of the TCP table."""
    counted: list[int] = []
    real = callers._inode

    def counting(client_port: int, server_port: int, table: Path) -> str | None:
        counted.append(client_port)
        return real(client_port, server_port, table)

    monkeypatch.setattr(callers, "_inode", counting)
    return counted


def test_a_busy_worker_is_found_once_per_connection(proc: Path, searches: list[int]) -> None:
    found = Callers(proc)
    worker = Client(5001)
    assert found.find(worker, [12, 11]) == 11
    assert found.find(worker, [12]) == 11  # kept for the connection's life
    assert searches == [5001]
    assert found.find(Client(5002), [11, 12]) == 12


def test_a_connection_no_worker_holds_is_not_searched_at_every_request(
    proc: Path, searches: list[int]
) -> None:
    """A test posting from its own process: one search, then none until a new worker is busy."""
    found = Callers(proc)
    outsider = Client(5003)
    assert found.find(outsider, []) is None  # nothing busy: nothing to search
    assert searches == []
    for _ in range(5):
        assert found.find(outsider, [11, 12]) is None
    assert found.find(outsider, [11]) is None
    assert searches == [5003]
    assert found.find(outsider, [12, 13]) is None  # 13 is new: searched, in 13 only
    assert searches == [5003, 5003]


def test_a_worker_missed_while_idle_is_found_once_busy(proc: Path, searches: list[int]) -> None:
    """A connection looked up while its worker wasn't busy is found when it is."""
    found = Callers(proc)
    worker = Client(5002)
    assert found.find(worker, [11]) is None
    assert found.find(worker, [11, 12]) == 12
    assert found.find(worker, [11]) == 12
    assert searches == [5002, 5002]

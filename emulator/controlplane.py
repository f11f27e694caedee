"""The embedded AWS control plane: moto's server, with an account of its own per harness.

moto keeps its state per AWS account, and picks the account by the caller's access
key. So each :meth:`ControlPlane.new_account` makes a fresh account with a key of
its own: two harnesses (or two tests) in one process never see each other's
tables, functions or APIs, whether or not they share the server.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any
from wsgiref.types import WSGIApplication

import boto3
from moto.server import ThreadedMotoServer

from emulator.targets import EMULATOR_CREDENTIALS, Target

LOOPBACK = "127.0.0.1"
_ACCOUNT_HEADER = "x-moto-account-id"  # moto's way to act as a given account


def new_account_id() -> str:
    """A random account id, never moto's default 123456789012."""
    return f"{secrets.randbelow(9 * 10**11) + 10**11:012d}"


class ControlPlane:
    """moto's server on loopback; ``port`` 0 picks a free one."""

    def __init__(self, port: int = 0) -> None:
        # Always loopback: it answers anyone without checking signatures.
        self._server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
        self._started = False

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server.start()
        self._started = True

    @property
    def url(self) -> str:
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def new_account(self, region: str, account_id: str | None = None) -> Target:
        """A target in a new, empty account of this server (a random id by default)."""
        account_id = account_id or new_account_id()
        iam = boto3.client("iam", endpoint_url=self.url, region_name=region, **EMULATOR_CREDENTIALS)

        def act_as_account(request: Any, **_: Any) -> None:
            request.headers[_ACCOUNT_HEADER] = account_id

        iam.meta.events.register("before-send.iam", act_as_account)
        iam.create_user(UserName="emulator")
        key = iam.create_access_key(UserName="emulator")["AccessKey"]
        return Target.local(self.url, region, (key["AccessKeyId"], key["SecretAccessKey"]))

    def add_middleware(self, wrap: Callable[[WSGIApplication], WSGIApplication]) -> None:
        """Put ``wrap(app)`` in front of the server's WSGI application (once started)."""
        server = self._server._server
        assert server is not None, "start the control plane first"
        server.app = wrap(server.app)

    def stop(self) -> None:
        if self._started:
            self._server.stop()
            self._started = False

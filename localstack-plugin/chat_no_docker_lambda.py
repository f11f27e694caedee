"""A Lambda runtime executor for LocalStack that runs nothing: for machines without Docker.

Loaded into LocalStack's own process (Python 3.13, ``.venv-localstack``), never into
ours: ``scripts/localstack.py`` puts this folder on LocalStack's ``PYTHONPATH`` and sets
``LAMBDA_RUNTIME_EXECUTOR=chat-no-docker`` when it starts LocalStack from PyPI (which it
does only when no Docker engine answers). LocalStack finds the executor through the
entry point in ``chat_no_docker_lambda-1.0.dist-info``, as it finds its own.

Why: LocalStack's Docker executor leaves every function ``Failed`` without Docker, and
LocalStack 2026.3 then refuses to update or delete a failed function. With this
executor a function's configuration and code are kept and it becomes ``Active``, so
deploy and destroy work on it as on AWS. Invoking it fails and says who runs the
chat's functions: the gateway emulator.
"""

from __future__ import annotations

from typing import Any

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin
from localstack.services.lambda_.invocation.runtime_executor import RuntimeExecutor

NOT_HERE = (
    "this LocalStack runs no functions (it has no Docker): the chat's gateway emulator "
    "(make localstack) runs them"
)


class NoDockerExecutor(RuntimeExecutor):
    """Keeps functions, runs none."""

    def start(self, env_vars: dict[str, str]) -> None:
        raise RuntimeError(NOT_HERE)

    def stop(self) -> None:
        pass

    def get_address(self) -> str:
        raise RuntimeError(NOT_HERE)

    def get_endpoint_from_executor(self) -> str:
        raise RuntimeError(NOT_HERE)

    def get_runtime_endpoint(self) -> str:
        raise RuntimeError(NOT_HERE)

    def invoke(self, payload: dict[str, str]) -> Any:
        raise RuntimeError(NOT_HERE)

    def get_logs(self) -> str:
        return ""

    @classmethod
    def prepare_version(cls, function_version: Any) -> None:
        pass  # nothing to pull or unpack: nothing will run

    @classmethod
    def cleanup_version(cls, function_version: Any) -> None:
        pass


class NoDockerExecutorPlugin(RuntimeExecutorPlugin):
    name = "chat-no-docker"

    def load(self, *args: Any, **kwargs: Any) -> type[RuntimeExecutor]:
        return NoDockerExecutor

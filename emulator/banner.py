"""What ``serve`` prints when the stack is ready: where everything is, and how to stop."""

from __future__ import annotations

import time

from emulator.debugging import banner_lines
from emulator.harness import Harness


def banner(harness: Harness, started: float) -> str:
    assert harness.target is not None
    assert harness.outputs is not None
    gateway = harness.gateway
    key, secret = harness.target.access_key
    lines = [f"\nReady in {time.monotonic() - started:.1f} s."]
    if gateway is None:  # a LocalStack plan with WebSocket APIs serves it
        lines += [
            f"  WebSocket API   {harness.outputs.websocket_url}",
            "                  LocalStack's own; it runs the functions in its Lambda",
        ]
    else:
        lines += [
            f"  WebSocket API   {gateway.url}",
            "                  connect clients here; on AWS this is "
            f"wss://{gateway.domain_name}/{gateway.stage}",
        ]
    if harness.website is not None:
        lines += [
            f"  Website         {harness.website.url}",
            "                  the website bucket, served as S3 website hosting would",
        ]
    if gateway is not None:
        lines += [
            f"  @connections    {gateway.management_endpoint}",
            "                  what functions post to; their workers resolve it to "
            f"127.0.0.1:{gateway.connections_port}",
        ]
    lines += [
        f"  AWS endpoint    {harness.control_plane_url}",
        f"                  DynamoDB, S3, Lambda…: AWS_ENDPOINT_URL={harness.control_plane_url}"
        f" AWS_ACCESS_KEY_ID={key} AWS_SECRET_ACCESS_KEY={secret}",
        f"  Function logs   {harness.log_dir}/<function>.log",
    ]
    if harness.inspector is not None:
        lines += [
            f"  Inspector       {harness.inspector.url}",
            "                  connections, frames, invocations and @connections calls, live",
        ]
    if harness.debugged:
        lines += banner_lines(harness.debugged)
    if harness.settings.state_dir is not None:
        lines.append(
            f"Tables are saved in {harness.settings.state_dir} within seconds of a change, "
            "and when you stop."
        )
    lines += [
        "Press Ctrl-C to stop.",
    ]
    return "\n".join(lines)

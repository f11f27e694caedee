"""The local stand-in for the API Gateway WebSocket data plane, and its Lambda runner.

``events`` builds AWS-shaped events (pure); ``runner`` runs functions in worker
processes as Lambda does; ``gateway`` is the WebSocket server and router;
``connections`` serves the ``@connections`` management API; ``harness`` wires the
embedded AWS emulator, deploy, the gateway and the website together.
"""

"""The benchmark's workload: a plain-boto3 broadcast, written as people write them for AWS.

A connection table keyed by ``connectionId`` holds each socket's room (``?room=`` on
connect); an index ``byRoom`` finds a room's sockets. A ``broadcast`` message
(``{"action": "broadcast", "room": ..., "data": ...}``) is posted, one
``post_to_connection`` after another, to every socket in the room.

The ``@connections`` endpoint is built from the event's ``domainName`` and ``stage``,
as on AWS. ``CONNECTIONS_ENDPOINT`` overrides it, the way projects on emulators whose
events name no reachable endpoint do (an ``IS_OFFLINE``-style switch); the report says
which emulator needed it. The same file runs unchanged on every emulator in the bench.

An ``echo`` message (``{"action": "echo", "data": ...}``) is posted back to its sender
alone: the round trip of one invocation and one post, with no table (issue 23's echo).
A ``reply`` message is sent back without any post: its route has a route response, so
the handler returns the data as its body and API Gateway sends that to the caller.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3

TABLE = boto3.resource("dynamodb").Table(os.environ["CONNECTIONS_TABLE"])
ROOM_INDEX = "byRoom"
_clients: dict[str, Any] = {}


def _management(context: dict[str, Any]) -> Any:
    endpoint = os.environ.get("CONNECTIONS_ENDPOINT") or (
        f"https://{context['domainName']}/{context['stage']}"
    )
    if endpoint not in _clients:
        _clients[endpoint] = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint)
    return _clients[endpoint]


def connect(event: dict[str, Any], context: object) -> dict[str, Any]:
    room = (event.get("queryStringParameters") or {}).get("room", "lobby")
    TABLE.put_item(Item={"connectionId": event["requestContext"]["connectionId"], "room": room})
    return {"statusCode": 200}


def disconnect(event: dict[str, Any], context: object) -> dict[str, Any]:
    TABLE.delete_item(Key={"connectionId": event["requestContext"]["connectionId"]})
    return {"statusCode": 200}


def _receivers(room: str) -> list[str]:
    ids: list[str] = []
    query: dict[str, Any] = {
        "IndexName": ROOM_INDEX,
        "KeyConditionExpression": "room = :r",
        "ExpressionAttributeValues": {":r": room},
        "ProjectionExpression": "connectionId",
    }
    while True:
        page = TABLE.query(**query)
        ids.extend(str(item["connectionId"]) for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            return ids
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def broadcast(event: dict[str, Any], context: object) -> dict[str, Any]:
    body = json.loads(event.get("body") or "{}")
    data = str(body.get("data", "")).encode()
    management = _management(event["requestContext"])
    for connection_id in _receivers(str(body.get("room", "lobby"))):
        try:
            management.post_to_connection(ConnectionId=connection_id, Data=data)
        except management.exceptions.GoneException:
            TABLE.delete_item(Key={"connectionId": connection_id})
    return {"statusCode": 200}


def _data(event: dict[str, Any]) -> str:
    return str(json.loads(event.get("body") or "{}").get("data", ""))


def echo(event: dict[str, Any], context: object) -> dict[str, Any]:
    request = event["requestContext"]
    data = _data(event).encode()
    _management(request).post_to_connection(ConnectionId=request["connectionId"], Data=data)
    return {"statusCode": 200}


def reply(event: dict[str, Any], context: object) -> dict[str, Any]:
    return {"statusCode": 200, "body": _data(event)}

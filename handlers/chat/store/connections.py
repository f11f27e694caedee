"""Connection records: who is on each connection, whether it is open, and the rates
of requests per connection and per user."""

from __future__ import annotations

from botocore.exceptions import ClientError

from chat import config
from chat.errors import (
    NotConnected,
    RateLimited,
)
from chat.rules import Identity
from chat.store.tables import (
    OPEN,
    RATE_PREFIX,
    Connection,
    Tables,
    condition_or,
    is_condition_failure,
    plain,
    to_connection,
    to_item,
)


class Connections(Tables):
    """The connections table."""

    def put_connection(
        self, connection_id: str, identity: Identity, connected_at: str, expires_at: int
    ) -> None:
        self._client.put_item(
            TableName=self._connections,
            Item=to_item(
                {
                    "connectionId": connection_id,
                    "userId": identity.user_id,
                    "name": identity.name,
                    "connectedAt": connected_at,
                    "expiresAt": expires_at,
                }
            ),
            ConditionExpression="attribute_not_exists(connectionId)",
        )

    def get_connection(self, connection_id: str) -> Connection | None:
        """A connection's record, closed or not: a request the gateway accepted before
        the close still has a caller."""
        reply = self._client.get_item(
            TableName=self._connections,
            Key=to_item({"connectionId": connection_id}),
            ConsistentRead=True,
        )
        return to_connection(plain(reply["Item"])) if "Item" in reply else None

    def open_connections(self, user_id: str) -> list[Connection]:
        """A user's connections not known to be closed, through the ``byUser`` index."""
        return [
            to_connection(item)
            for item in self.query(
                TableName=self._connections,
                IndexName=config.CONNECTIONS_BY_USER_INDEX,
                KeyConditionExpression="userId = :u",
                FilterExpression="attribute_not_exists(closedAt)",
                ExpressionAttributeValues=to_item({":u": user_id}),
            )
        ]

    def subscribe(self, connection_id: str) -> None:
        """Mark a connection as open for fan-out (it has spoken since ``$connect``)."""
        with condition_or(NotConnected("this connection is not registered; reconnect")):
            self._client.update_item(
                TableName=self._connections,
                Key=to_item({"connectionId": connection_id}),
                UpdateExpression="SET subscribed = :t",
                ConditionExpression=OPEN,
                ExpressionAttributeValues=to_item({":t": True}),
            )

    def user_connections(self, user_id: str) -> frozenset[str]:
        """A user's subscribed connections (other tabs), through the ``byUser`` index."""
        return frozenset(
            item["connectionId"]
            for item in self.query(
                TableName=self._connections,
                IndexName=config.CONNECTIONS_BY_USER_INDEX,
                KeyConditionExpression="userId = :u",
                FilterExpression="subscribed = :t AND attribute_not_exists(closedAt)",
                ExpressionAttributeValues=to_item({":u": user_id, ":t": True}),
            )
        )

    def retire_connection(self, connection_id: str, closed_at: str, expires_at: int) -> bool:
        """Mark a connection closed, keeping its record until ``expires_at`` (TTL) for the
        requests still in flight; True if this call closed it, False if it already was
        (or there is no record)."""
        try:
            self._client.update_item(
                TableName=self._connections,
                Key=to_item({"connectionId": connection_id}),
                UpdateExpression="SET closedAt = :at, expiresAt = :exp REMOVE subscribed",
                ConditionExpression=OPEN,
                ExpressionAttributeValues=to_item({":at": closed_at, ":exp": expires_at}),
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def rename_connections(self, user_id: str, name: str, rename: int) -> None:
        """Every open connection of a user takes the name of rename number ``rename``,
        unless it already has a later one's."""
        for connection in self.open_connections(user_id):
            try:
                self._client.update_item(
                    TableName=self._connections,
                    Key=to_item({"connectionId": connection.connection_id}),
                    UpdateExpression="SET #n = :name, renamed = :rename",
                    ConditionExpression=(
                        f"{OPEN} AND (attribute_not_exists(renamed) OR renamed < :rename)"
                    ),
                    ExpressionAttributeNames={"#n": "name"},
                    ExpressionAttributeValues=to_item({":name": name, ":rename": rename}),
                )
            except ClientError as exc:
                if not is_condition_failure(exc):
                    raise
                # Closed since, or renamed again meanwhile: nothing to write.

    def count_request(self, connection_id: str, now: int) -> Connection | None:
        """Count one request against the connection's rate in the current window, and
        against its user's; the connection's record (None: no such connection, and so
        nothing counted), or :class:`RateLimited` when either rate is used up.

        The connection's count is an attribute of its own record, named for the window
        (``r<window>``, the previous window's removed as it goes), so that counting and
        finding the caller are one conditional update; the user's is a counter item of
        its own. Two updates, not a transaction: a request refused for the user's rate
        may as well count against its connection's.
        """
        limits = self._limits
        window = now // limits.rate_window_seconds
        retry_after = (window + 1) * limits.rate_window_seconds - now

        def refused(whose: str) -> RateLimited:
            return RateLimited(
                f"too many requests from {whose}; wait {retry_after} s", retryAfter=retry_after
            )

        try:
            reply = self._client.update_item(
                TableName=self._connections,
                Key=to_item({"connectionId": connection_id}),
                UpdateExpression="ADD #win :one REMOVE #prev",
                ConditionExpression=(
                    "attribute_exists(connectionId) AND (attribute_not_exists(#win) OR #win < :max)"
                ),
                ExpressionAttributeNames={"#win": f"r{window}", "#prev": f"r{window - 1}"},
                ExpressionAttributeValues=to_item({":one": 1, ":max": limits.rate_per_connection}),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise
            if "Item" in exc.response:
                raise refused("this connection") from exc
            return None
        connection = to_connection(plain(reply["Attributes"]))
        with condition_or(refused("you")):
            self._client.update_item(
                TableName=self._connections,
                Key=to_item({"connectionId": f"{RATE_PREFIX}{window}#u#{connection.user_id}"}),
                UpdateExpression="ADD n :one SET expiresAt = :exp",
                ConditionExpression="attribute_not_exists(n) OR n < :max",
                ExpressionAttributeValues=to_item(
                    {
                        ":one": 1,
                        ":exp": (window + 2) * limits.rate_window_seconds,  # TTL clears it
                        ":max": limits.rate_per_user,
                    }
                ),
            )
        return connection

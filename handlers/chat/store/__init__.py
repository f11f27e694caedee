"""All DynamoDB access: three tables, no scans, every state change conditional.

Tables (names from :mod:`chat.config`):

- connections: ``connectionId`` → ``userId``, ``name``, ``connectedAt``, ``expiresAt`` (TTL),
  ``subscribed`` once the client has sent ``listRooms``, ``closedAt`` once the connection
  is known to be closed (the record stays until its TTL, so that requests the gateway
  accepted before the close still know their caller); index ``byUser`` (userId) finds
  a user's connections (several tabs). A record counts its connection's requests in the
  current fixed window (``r<window>``). Beside the records, ``connectionId =
  "rate#<window>#u#<userId>"`` counts a user's requests in a window (``n``), expiring by
  TTL.
- rooms: ``roomId`` + ``sk``. ``sk = "ROOM"`` holds the room (name, adminId, createdAt,
  ``version`` counting the member list's changes, ``pending`` counting the requests
  waiting, ``probedAt``); ``sk = "MEMBER#<userId>"`` holds a membership (name, role,
  status, requestedAt and ``roomName`` and ``connections``, the string set of the member's
  open connection ids, so that a broadcast needs one Query). Index ``byUser`` (userId,
  roomId) lists a user's rooms. ``roomId = "user#<userId>"`` + ``sk = "USER"`` counts the
  user's requests waiting in any room (``pending``).
- messages: ``roomId`` + ``sk = "<sentAt>#<messageId>"`` holds an entry of the
  conversation (text, kind, editedAt, deletedAt). Beside each room's partition,
  ``roomId = "ids#<roomId>"`` + ``sk = <messageId>`` maps a message id to its entry's
  ``sk``: written in one transaction with the entry, on condition that the id is
  new, it makes ``sendMessage`` idempotent and lets an edit find its message. A member's
  message is stored with ``undelivered`` set, removed once its fan-out has finished, so a
  retry of a send whose function died in between completes the delivery.

One class per table (:mod:`~chat.store.connections`, :mod:`~chat.store.rooms`,
:mod:`~chat.store.conversation`) on a common base (:mod:`~chat.store.tables`);
:class:`Store` is all of them, the one object handlers hold.
"""

from __future__ import annotations

from chat.store.connections import Connections
from chat.store.conversation import Conversation
from chat.store.rooms import Rooms
from chat.store.tables import MEMBER_PREFIX, Connection

__all__ = ["MEMBER_PREFIX", "Connection", "Store"]


class Store(Connections, Rooms, Conversation):
    """The chat's tables. Pass a client to share one or to point at an emulator."""

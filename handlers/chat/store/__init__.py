"""All DynamoDB access: three tables, no scans, every state change conditional.

Tables (names from :mod:`chat.config`):

- connections: ``connectionId`` → ``userId``, ``name``, ``connectedAt``, ``expiresAt`` (TTL),
  ``subscribed`` once the client has sent ``listRooms``, ``closedAt`` once the connection
  is known to be closed (the record stays until its TTL, so that requests the gateway
  accepted before the close still know their caller), ``renamed`` (the number of the
  rename whose name it has); index ``byUser`` (userId) finds a user's connections
  (several tabs). A record counts its connection's requests in the current fixed window
  (``r<window>``). Beside the records, ``connectionId = "rate#<window>#u#<userId>"``
  counts a user's requests in a window (``n``), expiring by TTL.
- rooms: ``roomId`` + ``sk``. ``sk = "ROOM"`` holds the room (name, adminId, createdAt,
  ``version`` counting the member list's changes, ``pending`` counting the requests
  waiting, ``probedAt``); ``sk = "MEMBER#<userId>"`` holds a membership (name, role,
  status, requestedAt and ``roomName``, ``connections``, the string set of the member's
  open connection ids, so that a broadcast needs one Query, ``lastEntry``, the sort key
  of the member's newest message, which the next must sort after, and ``renamed``).
  Index ``byUser`` (userId, roomId) lists a user's rooms. ``roomId = "user#<userId>"`` +
  ``sk = "USER"`` counts the user's requests waiting in any room (``pending``) and their
  renames (``renames``, with the latest ``name``).
- messages: ``roomId`` + ``sk = "<sentAt>#<messageId>"`` holds an entry of the
  conversation (text, kind, ``version``, editedAt, deletedAt). Beside each room's
  partition, ``roomId = "ids#<roomId>"`` + ``sk = <messageId>`` maps an entry's id to its
  ``sk``: written in one transaction with every entry, messages and notices alike, on
  condition that the id is new, it gives a room one id space, makes ``sendMessage``
  idempotent and lets an edit find its message. A member's message is stored with
  ``undelivered`` set, removed once its fan-out has finished, so a retry of a send whose
  function died in between completes the delivery.

Every write that depends on a membership or a role carries it as a condition in the same
transaction (the author's membership for a message, an edit or a deletion; ``adminId``
for a decision, a removal or a hand-over; the status read for a departure). A condition
that fails because the state moved on raises :class:`Conflict`, and the handler reads
and checks again; one that fails because the caller may no longer act raises the
client's error.

One class per concern (:mod:`~chat.store.connections`, :mod:`~chat.store.rooms`,
:mod:`~chat.store.presence`, :mod:`~chat.store.conversation`) on a common base
(:mod:`~chat.store.tables`);
:class:`Store` is all of them, the one object handlers hold.
"""

from __future__ import annotations

from chat.store.connections import Connections
from chat.store.conversation import Conversation
from chat.store.presence import Presence
from chat.store.rooms import Rooms
from chat.store.tables import MEMBER_PREFIX, Conflict, Connection

__all__ = ["MEMBER_PREFIX", "Conflict", "Connection", "Store"]


class Store(Connections, Rooms, Presence, Conversation):
    """The chat's tables. Pass a client to share one or to point at an emulator."""

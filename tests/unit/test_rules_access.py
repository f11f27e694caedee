"""Unit tests of ``chat.rules``: who may do what (membership, the admin's powers)."""

from __future__ import annotations

import pytest

from chat import rules
from chat.errors import (
    AdminCannotLeave,
    AlreadyMember,
    AlreadyPending,
    NoPendingRequest,
    NoSuchMember,
    NotAdmin,
    NotMember,
)
from chat.rules import Member, Role, Status
from tests.unit.rules_helpers import (
    ADMIN_ID,
    USER_ID,
    invalid_field,
    make_member,
    make_room,
)

# --- permissions -----------------------------------------------------------------


def test_require_approved_returns_member() -> None:
    """An approved member is returned."""
    member = make_member(status=Status.APPROVED)
    assert rules.require_approved([make_member(ADMIN_ID), member], USER_ID) is member


@pytest.mark.parametrize("status", [Status.PENDING, Status.REJECTED])
def test_require_approved_rejects_unapproved(status: Status) -> None:
    """Pending and rejected users are not members."""
    with pytest.raises(NotMember):
        rules.require_approved([make_member(status=status)], USER_ID)


def test_require_approved_rejects_absent() -> None:
    """A user with no membership is not a member."""
    with pytest.raises(NotMember):
        rules.require_approved([make_member(ADMIN_ID)], USER_ID)


def test_require_admin_allows_admin() -> None:
    """The room's admin passes require_admin."""
    rules.require_admin(make_room(ADMIN_ID), ADMIN_ID)


def test_require_admin_rejects_others() -> None:
    """Anyone but the room's admin is NotAdmin."""
    with pytest.raises(NotAdmin):
        rules.require_admin(make_room(ADMIN_ID), USER_ID)


@pytest.mark.parametrize("existing", [None, make_member(status=Status.REJECTED)])
def test_check_join_request_allows(existing: Member | None) -> None:
    """A new or previously rejected user may ask to join."""
    rules.check_join_request(existing)


def test_check_join_request_rejects_approved() -> None:
    """An approved member asking to join is AlreadyMember."""
    with pytest.raises(AlreadyMember):
        rules.check_join_request(make_member(status=Status.APPROVED))


def test_check_join_request_rejects_pending() -> None:
    """A user already waiting is AlreadyPending."""
    with pytest.raises(AlreadyPending):
        rules.check_join_request(make_member(status=Status.PENDING))


def test_check_decision_returns_pending() -> None:
    """A pending request can be decided; the member is returned."""
    member = make_member(status=Status.PENDING)
    assert rules.check_decision(member) is member


@pytest.mark.parametrize(
    "target", [None, make_member(status=Status.APPROVED), make_member(status=Status.REJECTED)]
)
def test_check_decision_rejects_non_pending(target: Member | None) -> None:
    """Deciding on a user without a pending request is NoPendingRequest."""
    with pytest.raises(NoPendingRequest):
        rules.check_decision(target)


# --- the admin's powers ------------------------------------------------------------


def test_check_removal() -> None:
    """The admin removes approved members; not pending ones, strangers or themselves."""
    admin = make_member(ADMIN_ID, "Ada", role=Role.ADMIN)
    member = make_member()
    pending = make_member("u" + "1" * 20, status=Status.PENDING)
    members = [admin, member, pending]
    assert rules.check_removal(make_room(), members, ADMIN_ID, USER_ID) is member
    with pytest.raises(NotAdmin):
        rules.check_removal(make_room(), members, USER_ID, ADMIN_ID)
    for target in (pending.user_id, "u" + "2" * 20):
        with pytest.raises(NoSuchMember):
            rules.check_removal(make_room(), members, ADMIN_ID, target)
    with pytest.raises(AdminCannotLeave):
        rules.check_removal(make_room(), members, ADMIN_ID, ADMIN_ID)


def test_check_transfer() -> None:
    """The admin hands the room to an approved member, not to a requester or to themselves."""
    admin = make_member(ADMIN_ID, "Ada", role=Role.ADMIN)
    member = make_member()
    pending = make_member("u" + "1" * 20, status=Status.PENDING)
    members = [admin, member, pending]
    assert rules.check_transfer(make_room(), members, ADMIN_ID, USER_ID) is member
    with pytest.raises(NotAdmin):
        rules.check_transfer(make_room(), members, USER_ID, USER_ID)
    with pytest.raises(NoSuchMember):
        rules.check_transfer(make_room(), members, ADMIN_ID, pending.user_id)
    assert invalid_field(
        lambda: rules.check_transfer(make_room(), members, ADMIN_ID, ADMIN_ID)
    ).details == {"field": "userId"}


def test_check_leave_lets_a_rejected_user_drop_the_room() -> None:
    """A rejected user may leave, which removes the room from their list."""
    rejected = make_member(status=Status.REJECTED)
    assert rules.check_leave(rejected) is rejected
    with pytest.raises(NotMember):
        rules.check_leave(None)

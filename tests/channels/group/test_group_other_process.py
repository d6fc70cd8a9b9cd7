"""A group room served by several web processes (issue 18): each process's live view of the room catches up with
what another process recorded, so a member who joined there is known here and member ids are not given twice."""

from __future__ import annotations

import secrets

from channels.group.actions import do_join_group_member, do_post_group_message, member_for_token, room_state
from channels.group.recording import _EXT, token_hash
from channels.group.sessions import start_group_room
from contacts.events import append_event
from extensions import db

from .conftest import user


def test_a_member_who_joined_through_another_process_is_known_here(app, packs, trainee):
    """This process built its view of the room; another process lets a person in (recorded there, never applied
    here). Their post through this process is accepted (it was refused "unknown member" before), and the next
    person to join here gets the next member id, not the one already given out there."""
    with app.app_context():
        (room,) = start_group_room(user(trainee), "en-group-sale", audience=0)
        first, _ = do_join_group_member(room, "Ann")
        assert first in room_state(room.id).members  # this process's view, built and cached
        # Another web process's join: the same event do_join_group_member records, written without this
        # process's view hearing of it.
        token = secrets.token_urlsafe(18)
        data = {"member": "m2", "name": "Bo", "simulated": False, "token_hash": token_hash(token)}
        append_event(room.id, "group.member_joined", "customer", data=data)
        assert "m2" not in app.extensions[_EXT][room.id].members  # the cached view is behind the recording

        assert member_for_token(room, "m2", token).name == "Bo"
        ev, created = do_post_group_message(room, "m2", "How long does shipping take?", client_id="b-1")
        assert created and ev["seq"] > 0
        third, _ = do_join_group_member(room, "Cy")
        assert third == "m3"
        db.session.remove()

"""The replicas' bookkeeping of `PgNotifier` (hub/db/notify.py): whom the others hold
streams for, what they are told, and that no notification outgrows PostgreSQL's limit.
(Two real hub processes on PostgreSQL: tests/e2e/test_replicas.py.)"""

from __future__ import annotations

import json
import uuid
from typing import Any

from hub.db.notify import PAYLOAD_MAX, PgNotifier, channel_of
from hub.live import LiveEvent

URL = "postgresql+asyncpg://hub:secret@db:5432/hub"


def told(notifier: PgNotifier, replica: str, **message: Any) -> None:
    notifier._heard_from(None, 0, "", json.dumps({"r": replica, **message}))


def test_the_others_listeners_count_as_listening_until_they_leave() -> None:
    notifier = PgNotifier(URL, "s")
    mine, theirs, both = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    notifier.subscribe(mine)
    told(notifier, "b", t="all", i=[str(theirs)], first=True)
    assert theirs not in notifier.listening_users()  # a snapshot counts once it is whole
    told(notifier, "b", t="all", i=[str(both)], last=True)
    told(notifier, "c", t="on", i=[str(both)])
    listening = notifier.listening_users()
    assert {mine, theirs, both} == set(listening) and len(listening) == 3
    told(notifier, "b", t="off", i=[str(both)])
    assert both in notifier.listening_users()  # replica c still holds a stream
    told(notifier, "b", t="bye")
    told(notifier, "c", t="all", i=[], first=True, last=True)
    assert set(notifier.listening_users()) == {mine}


def test_events_and_stream_ends_from_another_replica_reach_this_ones_streams() -> None:
    notifier = PgNotifier(URL, "s")
    user = uuid.uuid4()
    subscription = notifier.subscribe(user)
    told(notifier, "b", t="e", i=[[str(user), "message", 7, {"message_id": "m"}]])
    assert subscription.take() == [LiveEvent("message", 7, {"message_id": "m"})]
    told(notifier, notifier.replica, t="e", i=[[str(user), "message", 8, {}]])
    assert subscription.take() == []  # its own words are not heard twice


async def test_what_is_told_fits_a_notification_and_only_where_someone_listens() -> None:
    notifier = PgNotifier(URL, "s")
    said: list[str] = []

    async def say(message: dict[str, Any]) -> None:
        said.append(json.dumps({"r": notifier.replica, **message}, separators=(",", ":")))

    notifier._say = say  # type: ignore[method-assign]
    far = [uuid.uuid4() for _ in range(300)]
    told(notifier, "b", t="all", i=[str(u) for u in far], first=True, last=True)
    here = uuid.uuid4()
    await notifier.publish([(u, LiveEvent("message", n, {"message_id": str(uuid.uuid4())}))
                            for n, u in enumerate([*far, here])])
    assert len(said) > 1 and all(len(s.encode()) <= PAYLOAD_MAX for s in said)
    sent_to = {item[0] for s in said for item in json.loads(s)["i"]}
    assert sent_to == {str(u) for u in far}


def test_each_schema_has_its_own_channel() -> None:
    assert channel_of("a") != channel_of("b") and channel_of(None).startswith("hub_live_")

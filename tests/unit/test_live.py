"""The in-process notifier: bounded per-stream mailboxes."""

from __future__ import annotations

import uuid

from hub.live import QUEUE_LIMIT, LiveEvent, LocalNotifier


async def test_events_reach_only_the_addressed_users_streams_in_order() -> None:
    notifier = LocalNotifier()
    ali, maja = uuid.uuid4(), uuid.uuid4()
    first, second, other = notifier.subscribe(ali), notifier.subscribe(ali), \
        notifier.subscribe(maja)
    events = [LiveEvent("message", n, {"message_id": str(n)}) for n in (1, 2, 3)]
    await notifier.publish((ali, e) for e in events)
    assert first.take() == events and second.take() == events
    assert other.take() == [] and not other.wakeup.is_set()
    notifier.unsubscribe(first)
    notifier.unsubscribe(second)
    notifier.unsubscribe(other)
    assert notifier.listener_count() == 0


async def test_a_stream_that_falls_behind_is_marked_lagged_instead_of_growing() -> None:
    notifier = LocalNotifier()
    user = uuid.uuid4()
    stream = notifier.subscribe(user)
    await notifier.publish((user, LiveEvent("message", n, {})) for n in range(QUEUE_LIMIT + 50))
    assert stream.lagged
    kept = stream.take()
    assert len(kept) == QUEUE_LIMIT
    assert [e.seq for e in kept] == list(range(QUEUE_LIMIT))
    assert stream.take() == []


async def test_ending_streams_closes_those_of_the_named_users_and_sessions_only() -> None:
    notifier = LocalNotifier()
    ali, maja, bo = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    phone, laptop = uuid.uuid4(), uuid.uuid4()
    ali_phone, ali_laptop = notifier.subscribe(ali, phone), notifier.subscribe(ali, laptop)
    maja_stream, bo_stream = notifier.subscribe(maja, uuid.uuid4()), notifier.subscribe(bo)

    await notifier.end_streams(sessions=[phone])

    assert ali_phone.closed and ali_phone.wakeup.is_set()
    assert not ali_laptop.closed and not ali_laptop.wakeup.is_set()

    await notifier.end_streams(users=[maja])

    assert maja_stream.closed and not bo_stream.closed and not ali_laptop.closed


async def test_a_closed_stream_takes_no_further_events() -> None:
    notifier = LocalNotifier()
    user, session = uuid.uuid4(), uuid.uuid4()
    stream = notifier.subscribe(user, session)
    await notifier.publish([(user, LiveEvent("message", 1, {}))])

    await notifier.end_streams(sessions=[session])
    await notifier.publish([(user, LiveEvent("message", 2, {}))])

    assert stream.closed
    assert stream.take() == []

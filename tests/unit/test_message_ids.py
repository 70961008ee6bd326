"""Message ids grow with time, so that the indexes keyed by them are written at one
end (see `hub.db.messages.new_message_id`), and stay unguessable."""

from __future__ import annotations

import itertools
import time
import uuid

from hub.db.messages import new_message_id


def test_ids_made_in_later_milliseconds_sort_after_earlier_ones() -> None:
    batches = []
    for _ in range(5):
        batches.append([new_message_id() for _ in range(400)])
        time.sleep(0.002)
    for earlier, later in itertools.pairwise(batches):
        assert max(earlier) < min(later)
        assert max(m.hex for m in earlier) < min(m.hex for m in later)  # as SQLite stores them
    assert len({m for batch in batches for m in batch}) == 2000


def test_an_id_is_a_standard_uuid_version_7_led_by_the_time_it_was_made() -> None:
    before = time.time_ns() // 1_000_000
    made = new_message_id()
    after = time.time_ns() // 1_000_000
    assert made.version == 7 and made.variant == uuid.RFC_4122
    assert before <= made.int >> 80 <= after + 1
    # The rest is random: two ids of the same millisecond share only the time.
    other = new_message_id()
    assert (made.int & ((1 << 62) - 1)) != (other.int & ((1 << 62) - 1))

"""Wake-up notes (herald_core.wake): what a worker learns from another store's note, and
that it skips its own store's."""

from __future__ import annotations

from herald_core import wake


def test_a_note_from_another_store_names_shards_and_earliest_due_times() -> None:
    note = wake.encode("other", {3: 1_000, 7: 2_000})
    assert wake.decode(note.encode(), 16, own="mine") == {3: 1_000, 7: 2_000}


def test_own_notes_are_skipped_and_schedule_notes_kept() -> None:
    assert wake.decode(wake.encode("mine", {3: 1_000}), 16, own="mine") == {}
    assert wake.decode(wake.SCHEDULES, 16, own="mine") is None


def test_malformed_pairs_and_unknown_shards_are_skipped() -> None:
    assert wake.decode("other 3:1000,x:5,40:7,2:abc,3:900", 16, own="mine") == {3: 900}


def test_a_wait_note_carries_its_deadline_and_no_work() -> None:
    note = wake.encode_waits(1_733_390_000_000)
    assert wake.waits_deadline(note.encode()) == 1_733_390_000_000
    assert wake.decode(note, 16, own="mine") == {}  # not work for any shard
    assert wake.waits_deadline(wake.encode("other", {3: 1_000})) is None
    assert wake.waits_deadline(wake.SCHEDULES) is None
    assert wake.waits_deadline("waits soon") is None

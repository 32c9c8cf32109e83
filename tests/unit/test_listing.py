"""Sorted-set listings (herald_core.listing): the cursor text a client gets and passes back,
and which index entries a shard's next batch takes."""

from __future__ import annotations

import pytest

from herald_core.errors import InvalidField
from herald_core.listing import Cursor, cursor_text, keys_below, read_cursor, score_tops


def test_a_cursor_handed_out_reads_back_as_the_same_key() -> None:
    text = cursor_text((1_700_000_000_000, "dlq_abc"))
    assert text == "1700000000000:dlq_abc"
    assert read_cursor(text, lambda i: i.startswith("dlq_")) == Cursor(
        (1_700_000_000_000, "dlq_abc")
    )
    assert cursor_text(None) is None
    assert read_cursor("", bool) is None and read_cursor(None, bool) is None


@pytest.mark.parametrize("raw", ["abc:dlq_1", "12:", "12:msg_1", "-5:dlq_1", "dlq_1"])
def test_a_cursor_this_server_did_not_hand_out_is_refused(raw: str) -> None:
    with pytest.raises(InvalidField) as refused:
        read_cursor(raw, lambda i: i.startswith("dlq_"))
    assert refused.value.field == "cursor"


def test_a_batch_takes_entries_strictly_below_the_bound_newest_first() -> None:
    members = [(b"c", 30.0), (b"b", 20.0), (b"a", 20.0), (b"z", 10.0)]
    assert keys_below(members, None, 10) == [(30, "c"), (20, "b"), (20, "a"), (10, "z")]
    assert keys_below(members, (20, "b"), 10) == [(20, "a"), (10, "z")]
    assert keys_below(members, None, 2) == [(30, "c"), (20, "b")]
    assert score_tops({0: None, 3: (20, "b")}) == {0: "+inf", 3: "20"}

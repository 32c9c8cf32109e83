"""The claim planner (herald_core.claims): which shards a worker claims from, and how long
it sleeps, from the hints it heard and the due times claims reported."""

from __future__ import annotations

from herald_core.claims import ClaimPlanner, WorkHint
from herald_core.store import ClaimResult

NOW = 1_000_000.0


def started() -> ClaimPlanner:
    """A planner past its first look at every shard, with nothing due anywhere."""
    planner = ClaimPlanner(shards=4, claim_batch=128, poll_interval=30)
    assert planner.plan(64, NOW) == dict.fromkeys(range(4), 16)  # the first plan polls all
    planner.claimed(ClaimResult([], dict.fromkeys(range(4), None)))
    return planner


def test_nothing_heard_nothing_claimed_until_the_safety_net_poll() -> None:
    planner = started()
    assert planner.plan(64, NOW + 1_000) == {}
    assert planner.idle_timeout(NOW + 1_000, 64) == 29.0  # asleep until the next poll
    assert planner.plan(64, NOW + 30_000) == dict.fromkeys(range(4), 16)


def test_a_hint_wakes_for_its_shard_only_when_due() -> None:
    planner = started()
    assert planner.heard(WorkHint(2, int(NOW) + 500))  # sooner than anything known: wake
    assert not planner.heard(WorkHint(2, int(NOW) + 900))  # not sooner: no wake-up
    assert planner.plan(64, NOW + 100) == {}
    assert planner.idle_timeout(NOW + 100, 64) == 0.4
    assert planner.plan(64, NOW + 500) == {2: 64}


def test_a_claim_reports_what_is_left_and_few_free_slots_rotate_over_shards() -> None:
    planner = started()
    for shard in range(4):
        planner.heard(WorkHint(shard, int(NOW)))
    assert planner.plan(2, NOW) == {0: 1, 1: 1}  # two slots: two shards, one task each
    assert planner.plan(2, NOW) == {2: 1, 3: 1}  # the others next, not the same two again
    planner.claimed(ClaimResult([], {0: int(NOW) + 50, 1: None}))  # 0 has more, later
    assert planner.plan(2, NOW + 10) == {}
    assert planner.idle_timeout(NOW + 10, 2) == 0.04
    assert planner.plan(2, NOW + 50) == {0: 2}
    assert planner.idle_timeout(NOW + 50, 0) == 30  # no free slot: wait for one (or a note)

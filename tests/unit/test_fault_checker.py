"""What the fault checker calls lost, and what it reports as held back by the local broker."""

from __future__ import annotations

from tests.support.fault_checker import StreamReport, TopicTally


def report(*, missing: frozenset[str], uncommitted_at: dict[str, tuple[tuple[int, int], ...]]) -> StreamReport:
    return StreamReport(
        accepted=3,
        feedback=TopicTally("cx.feedback.v1", 3, 3, frozenset()),
        scored=TopicTally("cx.feedback.scored.v1", 1, 1, missing, read_to={0: 100, 1: 50}),
        not_applied=frozenset(),
        aggregate_differences={},
        scored_uncommitted=TopicTally(
            "cx.feedback.scored.v1",
            sum(map(len, uncommitted_at.values())),
            len(uncommitted_at),
            frozenset(),
            copies_at=uncommitted_at,
        ),
    )


def test_records_past_the_last_stable_offset_are_held_back_not_lost() -> None:
    checked = report(missing=frozenset({"a", "b"}), uncommitted_at={"a": ((0, 100), (0, 130)), "b": ((1, 70),)})
    assert checked.held_back == {"a", "b"}
    assert checked.lost == frozenset()
    assert "2 of them held back" in checked.summary()


def test_an_aborted_copy_with_a_later_one_past_the_last_stable_offset_is_held_back() -> None:
    checked = report(missing=frozenset({"a"}), uncommitted_at={"a": ((0, 99), (0, 120))})
    assert checked.held_back == {"a"}
    assert checked.lost == frozenset()


def test_records_aborted_before_the_last_stable_offset_and_never_written_again_are_lost() -> None:
    checked = report(missing=frozenset({"a", "c"}), uncommitted_at={"a": ((0, 20), (0, 99)), "c": ((1, 10),)})
    assert checked.held_back == frozenset()
    assert checked.lost == {"a", "c"}


def test_an_id_missing_even_read_uncommitted_is_lost() -> None:
    checked = report(missing=frozenset({"gone"}), uncommitted_at={})
    assert checked.lost == {"gone"}

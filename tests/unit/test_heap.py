"""The start-up heap is frozen while a service runs and given back when it stops."""

from __future__ import annotations

import gc

from cxpulse_shared.heap import YOUNGEST_GENERATION_THRESHOLD, startup_heap_frozen


def test_objects_alive_at_start_up_are_frozen_until_the_service_stops() -> None:
    before = gc.get_threshold()
    with startup_heap_frozen():
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] >= YOUNGEST_GENERATION_THRESHOLD
        assert gc.get_threshold()[1:] == before[1:]
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def test_cycles_made_after_start_up_are_still_collected() -> None:
    class Node:
        partner: object

    with startup_heap_frozen():
        first, second = Node(), Node()
        first.partner, second.partner = second, first
        del first, second
        assert gc.collect() >= 2

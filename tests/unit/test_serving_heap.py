"""The model server's heap freeze: objects alive at a swap are skipped by later collections, and
a retired version's reference cycles are still reclaimed at the next swap."""

from __future__ import annotations

import gc
import weakref

from workloads.serving.model import freeze_heap


class Version:
    """Stands for a loaded model: an object graph with a reference cycle."""

    def __init__(self):
        self.self_reference = self


def test_a_swap_freezes_what_is_alive_and_the_next_one_reclaims_the_retired_version():
    try:
        served = Version()
        retired = weakref.ref(served)
        freeze_heap()
        assert gc.get_freeze_count() > 0
        del served  # the version retired at the next swap; only the cycle keeps it alive
        gc.collect()
        assert retired() is not None, "frozen objects are skipped by collections"
        freeze_heap()
        assert retired() is None, "the swap's collection reclaims the retired version's cycle"
    finally:
        gc.unfreeze()

"""One randomness rule: a row's generator comes from ``(random_state, row key)``.

Every sampled method draws the random numbers of an explained row from a
generator fixed by the explainer's ``random_state`` and the row's *key*, its
absolute position in the whole table (``first_row + i`` when a table is split
into chunks). So a row's numbers never depend on how rows are batched, split
across worker processes or sent to a cluster: the same seed gives the same
bytes everywhere.

``random_state`` may be None (a fresh seed), an int >= 0, a numpy
``Generator`` or ``RandomState`` (one integer is drawn from it, once per
call, before any fan-out), or a ``SeedSequence`` (its entropy and spawn key
are the root). Row ``r`` of an int seed ``s`` uses
``SeedSequence(s, spawn_key=(r,))``, as numpy's own ``spawn`` would number it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["check_random_state", "root_seed", "row_generator", "row_seed", "seed_entropy"]


def check_random_state(random_state: Any) -> Any:
    """Validate a ``random_state`` setting (without drawing from it); returns it unchanged."""
    if random_state is None or isinstance(
        random_state, (np.random.Generator, np.random.RandomState, np.random.SeedSequence)
    ):
        return random_state
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be >= 0; got {random_state}.")
        return random_state
    raise TypeError(
        "random_state must be None, an int >= 0, a numpy Generator, RandomState or "
        f"SeedSequence; got {type(random_state).__name__} {random_state!r}."
    )


def root_seed(random_state: Any) -> np.random.SeedSequence:
    """The root of every row's seed, drawn once, before any fan-out over rows.

    An int or a SeedSequence is used as given; None draws fresh entropy; a
    Generator or RandomState gives one integer (advancing it, so two calls with
    the same generator differ, as in scikit-learn).
    """
    random_state = check_random_state(random_state)
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    return np.random.SeedSequence(seed_entropy(random_state))


def seed_entropy(random_state: Any) -> int:
    """One integer seed (the root's entropy) drawn once, before any fan-out over rows."""
    random_state = check_random_state(random_state)
    if random_state is None:
        return int(np.random.SeedSequence().entropy)  # type: ignore[arg-type]
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, np.random.SeedSequence):
        raise TypeError("A SeedSequence is a root, not one integer: use root_seed().")
    return int(random_state)


def row_seed(root: np.random.SeedSequence | int, row: int) -> np.random.SeedSequence:
    """The seed of the row whose key (absolute position) is ``row``."""
    if not isinstance(root, np.random.SeedSequence):
        root = np.random.SeedSequence(int(root))
    return np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, int(row)))


def row_generator(root: np.random.SeedSequence | int, row: int) -> np.random.Generator:
    """The generator of the row whose key (absolute position) is ``row``."""
    return np.random.default_rng(row_seed(root, row))

"""Small-cell suppression of the transparency report (sipadu/services/suppression.py;
docs/transparency.md, "Suppression"): every hidden figure's feasible interval at least
the threshold wide, on hand-made tables and on random ones; the exact linear program
that finds the intervals held equal to a brute-force enumeration on tiny tables; and
the offline recipe's copy of the algorithm held equal to the service."""

import itertools
import math
import random
from pathlib import Path

import pytest

from sipadu.services.suppression import (
    COUNT_COLUMNS,
    _feasible,
    interval,
    relations,
    suppress,
)

DOCS = Path(__file__).parents[2] / "docs" / "transparency.md"


def row(ack: tuple[int, int, int], feedback: tuple[int, int, int], *rest: int) -> dict:
    """A category row: acknowledgement and feedback splits (same sum), then
    substantiated, not substantiated, referred, rejected, reopened."""
    assert sum(ack) == sum(feedback)
    values = (sum(ack), *ack, *feedback, *rest)
    return dict(zip(COUNT_COLUMNS, values, strict=True))


def with_total(categories: list[dict]) -> list[dict]:
    total = {c: sum(r[c] for r in categories) for c in COUNT_COLUMNS}
    return [*categories, total]


def values(table: list[dict]) -> dict:
    return {(r, c): table[r][c] for r in range(len(table)) for c in COUNT_COLUMNS}


def intervals(table: list[dict], hidden: set) -> dict:
    """Every hidden cell's exact [min, max] (max None: unbounded), searched to the end."""
    tableau = _feasible(relations(len(table) - 1), hidden, values(table))
    return {cell: interval(tableau, cell) for cell in hidden}


def check_protected(table: list[dict], hidden: set, threshold: int) -> None:
    assert {cell for cell, v in values(table).items() if v < threshold} <= hidden
    for cell, (low, high) in intervals(table, hidden).items():
        assert low <= table[cell[0]][cell[1]]
        assert high is None or high - low >= threshold, (cell, low, high)


def random_table(rng: random.Random, categories: int = 5, small: bool = False) -> list[dict]:
    """Category rows that keep every relation (outcomes and reopened within received)."""
    choices = (0, 1, 2) if small else (0, 0, 1, 2, 3, 4, 5, 6, 9, 14)
    rows = []
    for _ in range(rng.randint(1, categories)):
        ack = tuple(rng.choice(choices) for _ in range(3))
        received = sum(ack)
        cut = sorted(rng.randint(0, received) for _ in range(2))
        feedback = (cut[0], cut[1] - cut[0], received - cut[1])
        closed = sorted(rng.randint(0, received) for _ in range(4))
        outcomes = [b - a for a, b in itertools.pairwise([0, *closed])]
        rows.append(row(ack, feedback, *outcomes, rng.randint(0, received)))  # type: ignore[arg-type]
    return with_total(rows)


def recipe_namespace() -> dict:
    block = DOCS.read_text().split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {"__name__": "recipe"}
    exec(compile(block, "check_transparency.py", "exec"), namespace)
    return namespace


def test_the_reviewers_table_no_longer_says_who_was_acknowledged_on_time():
    """Before the interval audit this table was published with the total row's received
    (16) and acknowledged on time (10) and category 0's received (11) and acknowledged
    late (6) shown: category 0 had at most 5 on time, so categories 1 and 2 (5 reports)
    were all acknowledged on time. Every sum held two or more hidden figures and none
    was fixed by the sums alone: non-negativity pinned them."""
    table = with_total(
        [
            row((5, 6, 0), (2, 4, 5), 2, 1, 2, 3, 0),
            row((2, 0, 0), (0, 1, 1), 1, 0, 0, 1, 0),
            row((3, 0, 0), (1, 2, 0), 2, 0, 0, 0, 0),
        ]
    )
    hidden = suppress(table, 5)
    check_protected(table, hidden, 5)
    shown = {cell for cell in values(table) if cell not in hidden}
    assert not {(3, "received"), (3, "ack_on_time"), (0, "received"), (0, "ack_late")} <= shown


def test_the_outcomes_are_bounded_by_the_received():
    """One category (the total row repeats it): 6 received, all 6 closed as confirmed.
    No sum holds the outcomes, so the sums alone left received and confirmed shown; but
    the outcomes add up to at most the received, so the hidden 0s beside them (not
    confirmed, referred, rejected) were known 0s: "every one was confirmed"."""
    table = with_total([row((6, 0, 0), (6, 0, 0), 6, 0, 0, 0, 0)])
    hidden = suppress(table, 5)
    check_protected(table, hidden, 5)
    assert (0, "received") in hidden or (0, "closed_substantiated") in hidden
    for column in COUNT_COLUMNS:  # the total row is the category row: hidden alike
        assert ((0, column) in hidden) == ((1, column) in hidden)


def test_hidden_zeros_beside_a_shown_total_take_a_shown_part_along():
    table = with_total([row((7, 0, 0), (7, 0, 0), 7, 0, 0, 0, 0)] * 2)
    hidden = suppress(table, 5)
    assert (0, "ack_on_time") in hidden and (0, "feedback_on_time") in hidden
    check_protected(table, hidden, 5)


def test_everything_small_is_hidden_and_nothing_breaks():
    table = with_total(
        [row((0, 0, 0), (0, 0, 0), 0, 0, 0, 0, 0), row((1, 0, 0), (0, 1, 0), 0, 0, 0, 0, 1)]
    )
    hidden = suppress(table, 5)
    assert len(hidden) == 3 * len(COUNT_COLUMNS)
    check_protected(table, hidden, 5)


def test_figures_that_break_a_relation_are_refused():
    table = with_total([row((9, 0, 0), (9, 0, 0), 6, 6, 0, 0, 0)])  # 12 closed of 9
    with pytest.raises(ValueError):
        suppress(table, 5)


def test_random_tables_are_protected_and_the_recipe_agrees():
    rng = random.Random(19)  # fixed: the same tables on every run
    recipe = recipe_namespace()
    for _ in range(24):
        table = random_table(rng)
        threshold = rng.choice((2, 3, 5))
        hidden = suppress(table, threshold)
        check_protected(table, hidden, threshold)
        assert recipe["suppress"](table, threshold) == hidden


def settled_intervals(table: list[dict], hidden: set, settled: tuple[str, ...]) -> dict:
    """Every hidden cell's exact [min, max] for a reader who also knows the ``settled``
    columns' cells (0 by the public deadlines and the day of publication)."""
    fixed = {cell for cell in hidden if cell[1] in settled}
    tableau = _feasible(relations(len(table) - 1), hidden - fixed, values(table))
    return {cell: interval(tableau, cell) for cell in hidden - fixed}


def check_settled(table: list[dict], hidden: set, settled: tuple[str, ...], threshold: int):
    assert {cell for cell, v in values(table).items() if v < threshold} <= hidden
    for cell, (low, high) in settled_intervals(table, hidden, settled).items():
        assert high is None or high - low >= threshold, (cell, low, high)


def test_what_the_day_of_publication_settles_gives_no_hidden_figure_away():
    """A month published after every acknowledgement deadline and before any feedback
    deadline (the review's random month): everyone knows every "not yet due"
    acknowledgement and every late feedback is 0. Audited as if those were free, the
    categories' hidden received were on time + late: 21 = 15 + 6, 15 = 8 + 7."""
    settled = ("ack_pending", "feedback_late")
    table = with_total(
        [
            row((0, 1, 0), (0, 0, 1), 0, 0, 0, 0, 0),
            row((15, 6, 0), (16, 0, 5), 7, 0, 0, 5, 1),
            row((6, 1, 0), (4, 0, 3), 0, 2, 0, 1, 2),
            row((8, 7, 0), (11, 0, 4), 1, 3, 0, 2, 1),
            row((8, 5, 0), (12, 0, 1), 2, 0, 0, 6, 3),
        ]
    )
    unaware = settled_intervals(table, suppress(table, 5), settled)
    assert unaware[(1, "received")] == (21, 21) and unaware[(3, "received")] == (15, 15)
    hidden = suppress(table, 5, settled)
    check_settled(table, hidden, settled, 5)
    assert {(r, c) for r in range(6) for c in settled} <= hidden  # still shown as *
    assert recipe_namespace()["suppress"](table, 5, settled) == hidden


def test_random_months_past_their_deadlines_are_protected_and_the_recipe_agrees():
    rng = random.Random(23)
    recipe = recipe_namespace()
    for _ in range(12):
        categories = []
        for category in random_table(rng)[:-1]:  # every acknowledgement deadline passed
            category["ack_late"] += category["ack_pending"]
            category["ack_pending"] = 0
            categories.append(category)
        table = with_total(categories)
        hidden = suppress(table, 5, ("ack_pending",))
        check_settled(table, hidden, ("ack_pending",), 5)
        assert recipe["suppress"](table, 5, ("ack_pending",)) == hidden


def known_relations(categories: int) -> list:
    """What anyone knows of a table, written out here apart from the module's
    ``relations`` (docs/transparency.md, "Suppression"): (total, parts, exact)."""
    outcomes = ("closed_substantiated", "closed_unsubstantiated", "referred", "rejected")
    found: list = []
    for r in range(categories + 1):
        received = (r, "received")
        found.append((received, ((r, "ack_on_time"), (r, "ack_late"), (r, "ack_pending")), 1))
        found.append(
            (received, ((r, "feedback_on_time"), (r, "feedback_late"), (r, "feedback_pending")), 1)
        )
        found.append((received, tuple((r, c) for c in outcomes), 0))
        found.append((received, ((r, "reopened"),), 0))
    for c in COUNT_COLUMNS:
        found.append(((categories, c), tuple((r, c) for r in range(categories)), 1))
    return found


def brute_force(table: list[dict], hidden: set) -> dict:
    """Every hidden cell's least and greatest value over all tables of whole counts
    that show the same figures and keep every relation, by enumeration: each hidden
    cell from 0 to the total row's received (shown), in table order, a relation checked
    as soon as its last hidden cell has a value."""
    shown = {cell: v for cell, v in values(table).items() if cell not in hidden}
    cells = sorted(hidden, key=lambda c: (c[0], COUNT_COLUMNS.index(c[1])))
    bound = shown[(len(table) - 1, "received")]
    last: dict = {}
    for total, parts, exact in known_relations(len(table) - 1):
        members = [total, *parts]
        position = max((cells.index(c) for c in members if c in hidden), default=-1)
        last.setdefault(position, []).append((total, parts, exact))
    assert all(
        shown[t] - sum(shown[p] for p in ps) == 0
        if exact
        else shown[t] >= sum(shown[p] for p in ps)
        for t, ps, exact in last.get(-1, [])
    )
    found: dict = {cell: [math.inf, -math.inf] for cell in cells}
    assignment = dict(shown)

    def extend(depth: int) -> None:
        if depth == len(cells):
            for cell in cells:
                found[cell][0] = min(found[cell][0], assignment[cell])
                found[cell][1] = max(found[cell][1], assignment[cell])
            return
        for v in range(bound + 1):
            assignment[cells[depth]] = v
            if all(
                (assignment[t] == sum(assignment[p] for p in ps))
                if exact
                else assignment[t] >= sum(assignment[p] for p in ps)
                for t, ps, exact in last.get(depth, [])
            ):
                extend(depth + 1)

    extend(0)
    return found


def test_the_linear_program_agrees_with_brute_force_on_tiny_tables():
    """Random tiny tables (one or two categories, counts up to 6), a random set of
    hidden figures (never the total row's received, so every figure is bounded), at most
    7; the program's exact interval, rounded inwards, is the enumeration's."""
    rng = random.Random(37)
    checked = 0
    while checked < 40:
        table = random_table(rng, categories=2, small=True)
        cells = [c for c in values(table) if c != (len(table) - 1, "received")]
        hidden = set(rng.sample(cells, rng.randint(1, 7)))
        found = brute_force(table, hidden)
        for cell, (low, high) in intervals(table, hidden).items():
            assert high is not None
            assert (math.ceil(low), math.floor(high)) == tuple(found[cell]), (table, cell)
        checked += 1


@pytest.mark.parametrize("threshold", [2, 5])
def test_the_result_depends_on_figures_and_threshold_only(threshold):
    rng = random.Random(7)
    table = random_table(rng)
    assert suppress(table, threshold) == suppress([dict(r) for r in table], threshold)

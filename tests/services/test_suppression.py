"""Small-cell suppression of the transparency report (sipadu/services/suppression.py;
docs/transparency.md, "Suppression"), on hand-made tables and on random ones, each
result checked against the rules by code independent of the one under test, and the
offline recipe's copy of the algorithm held equal to it."""

import random
from fractions import Fraction
from pathlib import Path

import pytest

from sipadu.services import suppression
from sipadu.services.suppression import COUNT_COLUMNS, lines, suppress

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


def rank(matrix: list[list[Fraction]]) -> int:
    """Gaussian elimination, dense: independent of the module's sparse RREF."""
    rows = [list(r) for r in matrix]
    found = 0
    columns = len(rows[0]) if rows else 0
    for column in range(columns):
        pivot = next((i for i in range(found, len(rows)) if rows[i][column]), None)
        if pivot is None:
            continue
        rows[found], rows[pivot] = rows[pivot], rows[found]
        for i in range(len(rows)):
            if i != found and rows[i][column]:
                factor = rows[i][column] / rows[found][column]
                rows[i] = [a - factor * b for a, b in zip(rows[i], rows[found], strict=True)]
        found += 1
    return found


def derivable(table: list[dict], hidden: set) -> list:
    """Hidden cells some combination of the sums fixes: e_i in the row space of the sums
    over the hidden cells iff adding it as a row leaves the rank unchanged."""
    cells = sorted(hidden)
    matrix = []
    for total, parts in lines(len(table) - 1):
        coefficients = [Fraction(0)] * len(cells)
        for i, cell in enumerate(cells):
            if cell == total:
                coefficients[i] = Fraction(1)
            elif cell in parts:
                coefficients[i] = Fraction(-1)
        if any(coefficients):
            matrix.append(coefficients)
    base = rank(matrix)
    fixed = []
    for i, cell in enumerate(cells):
        unit = [Fraction(int(j == i)) for j in range(len(cells))]
        if rank([*matrix, unit]) == base:
            fixed.append(cell)
    return fixed


def check_rules(table: list[dict], hidden: set, threshold: int) -> None:
    value = {(r, c): table[r][c] for r in range(len(table)) for c in COUNT_COLUMNS}
    assert {cell for cell, v in value.items() if v < threshold} <= hidden
    for total, parts in lines(len(table) - 1):
        in_line = [cell for cell in (total, *parts) if cell in hidden]
        assert len(in_line) != 1, (total, parts)
        hidden_parts = [p for p in parts if p in hidden]
        if total not in hidden and hidden_parts:
            assert sum(value[p] for p in hidden_parts) >= threshold
    assert derivable(table, hidden) == []


def random_table(rng: random.Random) -> list[dict]:
    categories = []
    for _ in range(rng.randint(1, 5)):
        ack = tuple(rng.choice((0, 0, 1, 2, 3, 4, 5, 6, 9, 14)) for _ in range(3))
        received = sum(ack)
        cut = sorted(rng.randint(0, received) for _ in range(2))
        feedback = (cut[0], cut[1] - cut[0], received - cut[1])
        rest = [rng.randint(0, received) for _ in range(5)]
        categories.append(row(ack, feedback, *rest))  # type: ignore[arg-type]
    return with_total(categories)


def recipe_namespace() -> dict:
    block = DOCS.read_text().split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {"__name__": "recipe"}
    exec(compile(block, "check_transparency.py", "exec"), namespace)
    return namespace


def test_a_lone_hidden_figure_takes_the_smallest_other_with_it():
    table = with_total(
        [row((9, 3, 6), (6, 6, 6), 6, 6, 6, 6, 6), row((8, 7, 6), (7, 7, 7), 7, 7, 7, 7, 7)]
    )
    hidden = suppress(table, 5)
    # A's ack_late (3) alone in its row: the smaller other part (6, pending) goes; the
    # column "ack_late" then has one hidden part: B's (7) goes, and with it B's smaller
    # other part (pending 6); the two columns are then covered by each other.
    assert hidden == {(0, "ack_late"), (0, "ack_pending"), (1, "ack_late"), (1, "ack_pending")}
    check_rules(table, hidden, 5)


def test_hidden_zeros_beside_a_shown_total_take_a_shown_part_along():
    table = with_total([row((7, 0, 0), (7, 0, 0), 7, 0, 0, 0, 0)] * 2)
    hidden = suppress(table, 5)
    assert (0, "ack_on_time") in hidden and (0, "feedback_on_time") in hidden
    assert (0, "received") not in hidden and (2, "received") not in hidden
    check_rules(table, hidden, 5)


def test_a_single_category_hides_its_total_row_alike():
    table = with_total([row((6, 2, 0), (8, 0, 0), 8, 0, 0, 0, 1)])
    hidden = suppress(table, 5)
    for column in COUNT_COLUMNS:
        assert ((0, column) in hidden) == ((1, column) in hidden)
    check_rules(table, hidden, 5)


def test_everything_small_is_hidden_and_nothing_breaks():
    table = with_total(
        [row((0, 0, 0), (0, 0, 0), 0, 0, 0, 0, 0), row((1, 0, 0), (0, 1, 0), 0, 0, 0, 0, 1)]
    )
    hidden = suppress(table, 5)
    assert len(hidden) == 3 * len(COUNT_COLUMNS)
    check_rules(table, hidden, 5)


def test_random_tables_keep_every_rule_and_the_recipe_agrees():
    rng = random.Random(19)  # fixed: the same tables on every run
    recipe = recipe_namespace()
    for _ in range(30):
        table = random_table(rng)
        threshold = rng.choice((2, 3, 5))
        hidden = suppress(table, threshold)
        check_rules(table, hidden, threshold)
        assert recipe["suppress"](table, threshold) == hidden


def test_the_linear_algebra_finds_a_figure_no_single_sum_gives_away():
    """Rule c (docs/transparency.md): two groups of hidden figures, each a cycle no sum
    gives away (rows 0 and 1 over acknowledged late and pending; rows 2 and 3 over
    received, acknowledged and answered on time), joined by one more hidden figure
    (row 1, acknowledged on time). No sum has a single hidden figure, but the joining one
    is fixed: the sums of rows 0 and 1 and of the columns "late" and "pending" leave it
    alone."""
    hidden = {
        (0, "ack_late"), (0, "ack_pending"), (1, "ack_late"), (1, "ack_pending"),
        (2, "received"), (2, "ack_on_time"), (3, "received"), (3, "ack_on_time"),
        (2, "feedback_on_time"), (3, "feedback_on_time"), (1, "ack_on_time"),
    }  # fmt: skip
    table = with_total([row((9, 9, 9), (9, 9, 9), 0, 0, 0, 0, 0)] * 4)
    sums = lines(4)
    value = {(r, c): table[r][c] for r in range(5) for c in COUNT_COLUMNS}
    assert suppression._line_complement(sums, hidden, value, 5) is None  # rules a, b hold
    assert derivable(table, hidden) == [(1, "ack_on_time")]  # independent check
    assert suppression._determined(sums, hidden) == (1, "ack_on_time")
    assert suppression._determined(sums, hidden - {(1, "ack_on_time")}) is None
    extra = suppression._complement_of((1, "ack_on_time"), sums, hidden, value)
    assert extra in {(1, "received"), *((r, "ack_on_time") for r in (0, 4))}  # its sums'


@pytest.mark.parametrize("threshold", [2, 5])
def test_the_result_depends_on_figures_and_threshold_only(threshold):
    rng = random.Random(7)
    table = random_table(rng)
    assert suppress(table, threshold) == suppress([dict(r) for r in table], threshold)

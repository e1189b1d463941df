"""Small-cell suppression for the public transparency report (issue 19, item 3;
docs/transparency.md, "Suppression").

The table: one row per top-level category and a last row for all categories, one
column per count of :data:`COUNT_COLUMNS`. Its published sums (:func:`lines`) are

- in every row: ``received = ack_on_time + ack_late + ack_pending`` and
  ``received = feedback_on_time + feedback_late + feedback_pending``;
- in every column: the last row = the sum of the category rows.

:func:`suppress` hides

1. *primary*: every count below the threshold, 0 included (a 0 says "nobody", a 1 or 2
   points at someone);
2. *complementary*, until none of the three holds any more:
   a. a sum with exactly one hidden figure (it would be the sum minus the others);
   b. a sum whose total is shown and whose hidden parts add up to less than the
      threshold (a hidden 0 beside shown figures that make the total would be a 0
      again; a small remainder bounds each hidden part tightly);
   c. a hidden figure that some combination of the sums determines (linear algebra
      over the rationals: the figure's unit vector lies in the row space of the sums
      restricted to the hidden figures; e.g. a row and a column that each hide two).
   Each time the smallest shown figure of a sum concerned is hidden too (for a, a part
   before the total; ties in table order: row by row, column by column), one at a time,
   the rules checked again from a.

Deterministic and standard-library only, so an auditor's script re-runs it exactly
(docs/transparency.md, "Checking a report offline", holds a copy; a test holds the two
equal). What it does not do: a linear-programming audit of every hidden figure's
feasible interval; rules a and b bound each line, c excludes exact values; bounds from
non-negativity across several sums are not checked (docs/transparency.md says so).
"""

from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction

COUNT_COLUMNS = (
    "received",
    "ack_on_time",
    "ack_late",
    "ack_pending",
    "feedback_on_time",
    "feedback_late",
    "feedback_pending",
    "closed_substantiated",
    "closed_unsubstantiated",
    "referred",
    "rejected",
    "reopened",
)

Cell = tuple[int, str]  # (row, column); the last row is all categories
Line = tuple[Cell, tuple[Cell, ...]]  # (total, parts): total = sum(parts)


def lines(categories: int) -> list[Line]:
    """The published sums of a table with ``categories`` category rows and the total
    row after them, in a fixed order (rows first, then columns)."""
    total = categories
    found: list[Line] = []
    for row in range(categories + 1):
        for kind in ("ack", "feedback"):
            parts = tuple((row, f"{kind}_{when}") for when in ("on_time", "late", "pending"))
            found.append(((row, "received"), parts))
    for column in COUNT_COLUMNS:
        found.append(((total, column), tuple((row, column) for row in range(categories))))
    return found


def _order(cell: Cell) -> tuple[int, int]:
    return cell[0], COUNT_COLUMNS.index(cell[1])


def suppress(table: Sequence[Mapping[str, int]], threshold: int) -> set[Cell]:
    """The cells to hide of ``table`` (category rows, then the total row; each a mapping
    of every :data:`COUNT_COLUMNS` name to a count), for ``threshold`` (>= 1)."""
    categories = len(table) - 1
    sums = lines(categories)
    value = {(r, c): table[r][c] for r in range(categories + 1) for c in COUNT_COLUMNS}
    hidden = {cell for cell, count in value.items() if count < threshold}
    while True:
        extra = _line_complement(sums, hidden, value, threshold)
        if extra is None:
            determined = _determined(sums, hidden)
            if determined is None:
                return hidden
            extra = _complement_of(determined, sums, hidden, value)
            if extra is None:
                return hidden
        hidden.add(extra)


def _smallest(cells: Iterable[Cell], value: Mapping[Cell, int]) -> Cell | None:
    return min(cells, key=lambda cell: (value[cell], _order(cell)), default=None)


def _line_complement(
    sums: list[Line], hidden: set[Cell], value: Mapping[Cell, int], threshold: int
) -> Cell | None:
    """Rules a and b: the figure to hide next for the first sum that needs one."""
    for total, parts in sums:
        hidden_parts = [p for p in parts if p in hidden]
        shown_parts = [p for p in parts if p not in hidden]
        count = len(hidden_parts) + (total in hidden)
        if count == 1:
            return _smallest(shown_parts, value) or total
        if total not in hidden and hidden_parts:
            if sum(value[p] for p in hidden_parts) < threshold:
                return _smallest(shown_parts, value)
    return None


def _determined(sums: list[Line], hidden: set[Cell]) -> Cell | None:
    """Rule c: the first hidden cell (table order) whose value the sums fix, or None.

    Reduced row echelon form of the sums over the hidden cells (shown cells are
    constants): a cell is fixed iff its pivot row has no other entry."""
    variables = sorted(hidden, key=_order)
    index = {cell: i for i, cell in enumerate(variables)}
    pending: list[dict[int, Fraction]] = []
    for total, parts in sums:
        row = {index[p]: Fraction(-1) for p in parts if p in index}
        if total in index:
            row[index[total]] = Fraction(1)
        if row:
            pending.append(row)
    reduced: list[dict[int, Fraction]] = []
    for column in range(len(variables)):
        pivot = next((row for row in pending if column in row), None)
        if pivot is None:
            continue
        pending.remove(pivot)
        scale = pivot[column]
        pivot = {k: v / scale for k, v in pivot.items()}
        pending = [_eliminate(row, pivot, column) for row in pending]
        reduced = [_eliminate(row, pivot, column) for row in reduced]
        reduced.append(pivot)
    fixed = [next(iter(row)) for row in reduced if len(row) == 1]
    return variables[min(fixed)] if fixed else None


def _eliminate(
    row: dict[int, Fraction], pivot: dict[int, Fraction], column: int
) -> dict[int, Fraction]:
    factor = row.get(column)
    if not factor:
        return row
    result = dict(row)
    for k, v in pivot.items():
        result[k] = result.get(k, Fraction(0)) - factor * v
        if not result[k]:
            del result[k]
    return result


def _complement_of(
    cell: Cell, sums: list[Line], hidden: set[Cell], value: Mapping[Cell, int]
) -> Cell | None:
    """The figure to hide for a determined ``cell``: the smallest shown one of a sum
    holding it, else of any sum holding a hidden figure, else None (all hidden)."""
    for wanted in ({cell}, hidden):
        candidates = {
            c
            for total, parts in sums
            if wanted & {total, *parts}
            for c in (total, *parts)
            if c not in hidden
        }
        if candidates:
            return _smallest(candidates, value)
    return None

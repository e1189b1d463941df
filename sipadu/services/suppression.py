"""Small-cell suppression for the public transparency report (issue 19, item 3;
docs/transparency.md, "Suppression").

The table: one row per top-level category and a last row for all categories, one
column per count of :data:`COUNT_COLUMNS`. What anyone knows of it (:func:`relations`):

- in every row: ``received = ack_on_time + ack_late + ack_pending``, the same for
  feedback, ``closed_substantiated + closed_unsubstantiated + referred + rejected <=
  received`` and ``reopened <= received``;
- in every column: the last row = the sum of the category rows;
- every count is at least 0 (so each part is at most its total);
- the *settled* columns (``settled``, worked out by the caller from what everyone knows:
  the public deadlines and the day of publication), 0 in every row: once every
  acknowledgement deadline has passed, nothing is "not yet due"; they are held at their
  value in the audit (never taken as the figure to hide next: hiding what everyone
  knows protects nothing), and still hidden when below the threshold.

:func:`suppress` hides every count below the threshold, 0 included (a 0 says "nobody",
a 1 or 2 points at someone), then audits: for each hidden figure in table order (row by
row, column by column) it finds the least and the greatest value the shown figures and
the relations above allow (an exact linear program over the hidden figures:
:func:`interval`). A figure whose interval is narrower than the threshold (its
*protection interval*: ``max - min >= threshold``) is known to within fewer than the
threshold of reports; then the smallest shown figure of a relation holding it is hidden
too (when there is none, of a relation holding one of those hidden figures, and so on;
ties in table order), and the audit goes on.

The result depends on the figures, the settled columns and the threshold alone (the
intervals are the exact optima, whatever path the simplex takes), and hiding more only
widens every interval, so a figure once protected stays so. Standard library only, so
an auditor's script re-runs it exactly (docs/transparency.md, "Checking a report
offline", holds a copy; a test holds the two equal). The linear program is the
textbook two-phase simplex method over :class:`fractions.Fraction` with Bland's rule
(R. G. Bland, "New finite pivoting rules for the simplex method", Math. Oper. Res.
2(2), 1977), which cannot cycle.
"""

from collections.abc import Collection, Mapping, Sequence
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
OUTCOMES = COUNT_COLUMNS[7:11]

Cell = tuple[int, str]  # (row, column); the last row is all categories
# (total, parts, exact): total = sum(parts) when exact, else total >= sum(parts)
Relation = tuple[Cell, tuple[Cell, ...], bool]
Row = dict[int, Fraction]  # a sparse row of the simplex tableau: column -> coefficient


def relations(categories: int) -> list[Relation]:
    """What is known of a table with ``categories`` category rows and the total row
    after them besides non-negativity, in a fixed order (rows first, then columns)."""
    total = categories
    found: list[Relation] = []
    for row in range(categories + 1):
        for kind in ("ack", "feedback"):
            parts = tuple((row, f"{kind}_{when}") for when in ("on_time", "late", "pending"))
            found.append(((row, "received"), parts, True))
        found.append(((row, "received"), tuple((row, c) for c in OUTCOMES), False))
        found.append(((row, "received"), ((row, "reopened"),), False))
    for column in COUNT_COLUMNS:
        found.append(((total, column), tuple((row, column) for row in range(categories)), True))
    return found


def _order(cell: Cell) -> tuple[int, int]:
    return cell[0], COUNT_COLUMNS.index(cell[1])


def suppress(
    table: Sequence[Mapping[str, int]], threshold: int, settled: Collection[str] = ()
) -> set[Cell]:
    """The cells to hide of ``table`` (category rows, then the total row; each a mapping
    of every :data:`COUNT_COLUMNS` name to a count >= 0, the relations holding), for
    ``threshold`` (>= 1): every hidden cell's interval is at least ``threshold`` wide,
    the cells of the ``settled`` columns (known to everyone) held at their values.
    Raises ValueError when the figures break a relation (not a table of counts)."""
    known = relations(len(table) - 1)
    value = {(r, c): table[r][c] for r in range(len(table)) for c in COUNT_COLUMNS}
    fixed = {cell for cell in value if cell[1] in settled}
    hidden = {cell for cell, count in value.items() if count < threshold} - fixed
    also = {cell for cell in fixed if value[cell] < threshold}
    protected: set[Cell] = set()
    while True:
        tableau = _feasible(known, hidden, value)
        for cell in sorted(hidden - protected, key=_order):
            low, high = interval(tableau, cell, value[cell], threshold)
            if high is not None and high - low < threshold:
                break
            protected.add(cell)
        else:
            return hidden | also
        extra = _nearest_shown(cell, known, hidden | fixed, value)
        if extra is None:
            return hidden | also
        hidden.add(extra)


def _nearest_shown(
    cell: Cell, known: list[Relation], hidden: set[Cell], value: Mapping[Cell, int]
) -> Cell | None:
    """The smallest shown figure of a relation holding ``cell``; when they are all
    hidden, of a relation holding one of theirs, and so on (ties in table order); None
    when none is reachable."""
    reached = {cell}
    while True:
        near = {
            c for total, parts, _ in known if reached & {total, *parts} for c in (total, *parts)
        }
        shown = near - hidden
        if shown:
            return min(shown, key=lambda c: (value[c], _order(c)))
        if near <= reached:
            return None
        reached |= near


class Tableau:
    """A basic feasible solution of ``rows · x = rhs``, ``x >= 0``: ``basis[i]`` is the
    column basic in row ``i``; ``columns[cell]`` the column of a hidden cell."""

    def __init__(self, rows: list[Row], rhs: list[Fraction], basis: list[int]) -> None:
        self.rows, self.rhs, self.basis = rows, rhs, basis
        self.columns: dict[Cell, int] = {}

    def copy(self) -> "Tableau":
        copied = Tableau([dict(r) for r in self.rows], list(self.rhs), list(self.basis))
        copied.columns = self.columns
        return copied

    def pivot(self, r: int, column: int, objective: Row | None = None) -> Fraction:
        """Make ``column`` basic in row ``r``; returns the change of the objective
        (reduced costs ``objective``, updated in place)."""
        scale = self.rows[r][column]
        row = {k: v / scale for k, v in self.rows[r].items()}
        self.rows[r], self.rhs[r], self.basis[r] = row, self.rhs[r] / scale, column
        for i, other in enumerate(self.rows):
            if i != r and column in other:
                self.rhs[i] -= other[column] * self.rhs[r]
                _subtract(other, other[column], row)
        if objective is None or column not in objective:
            return Fraction(0)
        change = objective[column] * self.rhs[r]
        _subtract(objective, objective[column], row)
        return change

    def minimise(self, cost: Row, stop: Fraction | None = None) -> Fraction | None:
        """The least ``cost · x`` (None: unbounded below), or the first value at most
        ``stop`` the simplex reaches; Bland's rule (lowest entering column, lowest
        basic column among the tied leaving rows)."""
        reduced = dict(cost)
        value = Fraction(0)
        for i, basic in enumerate(self.basis):
            if basic in cost:
                value += cost[basic] * self.rhs[i]
                _subtract(reduced, cost[basic], self.rows[i])
        while stop is None or value > stop:
            entering = min((k for k, v in reduced.items() if v < 0), default=None)
            if entering is None:
                return value
            ratios = [(self.rhs[i] / row[entering], self.basis[i], i)
                      for i, row in enumerate(self.rows) if row.get(entering, 0) > 0]  # fmt: skip
            if not ratios:
                return None
            value += self.pivot(min(ratios)[2], entering, reduced)
        return value


def _subtract(target: Row, factor: Fraction, row: Row) -> None:
    """``target -= factor * row``, dropping zeros."""
    for k, v in row.items():
        new = target.get(k, 0) - factor * v
        if new:
            target[k] = new
        else:
            target.pop(k, None)


def _feasible(known: list[Relation], hidden: set[Cell], value: Mapping[Cell, int]) -> Tableau:
    """Phase one: a basic feasible solution over the hidden cells (columns in table
    order), a slack column per inequality; an artificial column per row, driven out.
    Raises ValueError when there is none (the figures break a relation)."""
    cells = sorted(hidden, key=_order)
    columns = {cell: i for i, cell in enumerate(cells)}
    rows: list[Row] = []
    rhs: list[Fraction] = []
    for total, parts, exact in known:
        row: Row = {}
        constant = Fraction(0)
        for cell, sign in ((total, 1), *((p, -1) for p in parts)):
            if cell in columns:
                row[columns[cell]] = row.get(columns[cell], Fraction(0)) + sign
            else:
                constant -= sign * value[cell]
        if not row:
            continue
        if not exact:
            row[len(cells) + len(rows)] = Fraction(-1)  # total - parts - slack = constant
        sign = -1 if constant < 0 else 1
        rows.append({k: sign * v for k, v in row.items()})
        rhs.append(sign * constant)
    artificial = len(cells) + len(rows)
    for i, row in enumerate(rows):
        row[artificial + i] = Fraction(1)
    tableau = Tableau(rows, rhs, [artificial + i for i in range(len(rows))])
    if tableau.minimise({artificial + i: Fraction(1) for i in range(len(rows))}):
        raise ValueError("the figures break a relation")
    for i in reversed(range(len(rows))):  # artificial basics are at 0: pivot them out
        if tableau.basis[i] >= artificial:
            real = min((k for k in tableau.rows[i] if k < artificial), default=None)
            if real is None:  # a relation the others imply
                del tableau.rows[i], tableau.rhs[i], tableau.basis[i]
            else:
                tableau.pivot(i, real)
    for row in tableau.rows:
        for k in [k for k in row if k >= artificial]:
            del row[k]
    tableau.columns = columns
    return tableau


def interval(
    tableau: Tableau, cell: Cell, value: int = 0, threshold: int | None = None
) -> tuple[Fraction, Fraction | None]:
    """The least and greatest value of hidden ``cell`` (greatest None: unbounded). With
    ``threshold``, stops as soon as the interval is known to be at least that wide
    (``value``, the cell's own, lies in it): a bound then need not be the optimum, and
    the least of an unbounded cell is given as 0."""
    column = tableau.columns[cell]
    stop = None if threshold is None else -Fraction(value + threshold)
    negated = tableau.copy().minimise({column: Fraction(-1)}, stop)
    high = None if negated is None else -negated
    if high is None and threshold is not None:
        return Fraction(0), None  # wide enough whatever the least
    stop = None if threshold is None or high is None else high - threshold
    low = tableau.copy().minimise({column: Fraction(1)}, stop)
    assert low is not None  # x >= 0
    return low, high

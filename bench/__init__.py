"""`make bench`: measured speed-ups and throughputs of the framework, as one markdown table.

Every number is a ratio against a baseline measured in the same run (closed form vs loop, compiled vs
eager) or a throughput printed next to the rate that consumes it (data loading vs a training step).
Modules: ``bench_tictac`` (TAC, TIC), ``bench_models`` (throughput, parameters, FLOPs per preset),
``bench_data`` (DataLoader items/s against the models' consumption), ``bench_demo`` (``make demo``
seconds per stage); ``python -m bench`` runs them all and writes ``bench/results/bench.md``.

This module holds what they share: the timing rule (warm-up, then the median of repeats, bounded by a
time budget) and the :class:`Row` every bench function returns.
"""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable

from utils.study import tables

COLUMNS = ("group", "benchmark", "measured", "baseline (same run)", "ratio", "goal", "notes")


@dataclass
class Row:
    """One line of the table. Text fields are already formatted; ``numbers`` keeps the raw values
    (seconds, samples/s, counts) for bench.json and tests."""
    group: str
    benchmark: str
    measured: str
    baseline: str = "—"
    ratio: str = "—"
    goal: str = "—"
    notes: str = ""
    numbers: dict[str, float] = field(default_factory=dict)

    def cells(self) -> tuple[str, ...]:
        return (self.group, self.benchmark, self.measured, self.baseline, self.ratio, self.goal, self.notes)


def timed(fn: Callable[[], object], repeats: int = 5, warmup: int = 1, budget_s: float = 10.0,
          min_repeats: int = 3) -> tuple[float, int]:
    """(median seconds of one call, number of timed calls) after ``warmup`` untimed calls.

    Stops after ``repeats`` calls, or once ``budget_s`` is spent and at least ``min_repeats`` ran, so a
    slow case costs about max(budget_s, min_repeats calls) instead of ``repeats`` calls.
    """
    for _ in range(warmup):
        fn()
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < repeats:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= min_repeats and time.perf_counter() - started > budget_s:
            break
    return statistics.median(times), len(times)


def timed_pair(fn_a: Callable[[], object], fn_b: Callable[[], object], repeats: int = 5, warmup: int = 1,
               budget_s: float = 10.0, min_repeats: int = 3) -> tuple[float, float, int]:
    """(median seconds of `fn_a`, of `fn_b`, timed calls of each), the calls alternating a, b, a, b…

    Alternation makes the ratio of the two robust to the machine's load drifting during the measurement
    (other jobs, a DataLoader worker starting): both see the same conditions. Same stopping rule as
    :func:`timed`.
    """
    for _ in range(warmup):
        fn_a()
        fn_b()
    times_a: list[float] = []
    times_b: list[float] = []
    started = time.perf_counter()
    while len(times_a) < repeats:
        for fn, times in ((fn_a, times_a), (fn_b, times_b)):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        if len(times_a) >= min_repeats and time.perf_counter() - started > budget_s:
            break
    return statistics.median(times_a), statistics.median(times_b), len(times_a)


def fmt_rate(per_s: float | None, unit: str = "/s") -> str:
    """12345.6 → '12.3k/s'; None or NaN → 'n/a'."""
    if per_s is None or not math.isfinite(per_s):
        return "n/a"
    return fmt_count(per_s) + unit


def fmt_count(n: float) -> str:
    """89994513 → '90.0M'."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= 0.9995 * scale:  # 999.7 is '1k', not '1e+03'
            return f"{n / scale:.3g}{suffix}"
    return f"{n:.3g}"


def fmt_seconds(s: float) -> str:
    """3 significant digits below 100 s ('20.4 ms', '58.6 s'), whole seconds above ('1000 s', not '1e+03 s')."""
    return f"{s * 1e3:.3g} ms" if s < 1 else f"{s:.3g} s" if s < 100 else f"{s:.0f} s"


def fmt_ratio(r: float | None) -> str:
    if r is None or not math.isfinite(r):
        return "n/a"
    return f"{r:.3g}×"


def goal_text(ratio: float | None, goal: float) -> str:
    """'≥ 100×: met', '≥ 100×: NOT met', or '≥ 100×: n/a' without a ratio."""
    if ratio is None or not math.isfinite(ratio):
        return f"≥ {goal:g}×: n/a"
    return f"≥ {goal:g}×: {'met' if ratio >= goal else 'NOT met'}"


def error_reason(error: BaseException, limit: int = 80) -> str:
    """The first line of an exception, shortened for a table cell."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    text = text.replace("|", "/")
    return text if len(text) <= limit else text[:limit - 1] + "…"


def markdown_table(rows: list[Row]) -> str:
    """The rows as a GitHub markdown table (``|`` in cells escaped)."""
    return tables.markdown_table(list(COLUMNS), [[c.replace("|", "\\|") for c in row.cells()] for row in rows])

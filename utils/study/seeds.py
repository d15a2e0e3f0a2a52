"""One study over several seeds: where each seed's run lives, and its numbers read back as mean ± sd.

`python study.py seeds=0,1,2` runs every stage after the data once per seed, each into its own run folder
with today's single-seed layout (its own report.md included)::

    checkpoint/<experiment>/
      seed0/ seed1/ seed2/      2d/, predictions/, 3d/, eval/, compare/, figures/, report.md, timings.json
      report.md                 every numeric cell: mean ± sd over the seeds (sd with ddof = 1)
      compare/                  tables.md, tables.json, CSVs and heatmaps of the means
      timings.json              seconds per stage, summed over the seeds

`seeds: []` (the default) is one run with `seed` at checkpoint/<experiment>/, as before.

The numbers are combined file by file (:class:`SeedRuns`): the same metrics.csv / metrics.json /
baselines.json of every seed, leaf by leaf. A number that differs between seeds becomes a :class:`Spread`
(a float equal to the mean that keeps the per-seed values); one that is the same in every seed (a baseline
computed from the data, K, an epoch count) stays as it is, so a single seed gives back its own numbers.
"""
from __future__ import annotations

import csv
import json
import logging
import math
import operator
from pathlib import Path

import numpy as np

from utils.engine import layout

logger = logging.getLogger(__name__)

BASELINES_PATH = Path("compare") / "baselines.json"  # utils.study.comparison.BASELINES_FILE under a run folder


# --- a number measured once per seed --------------------------------------------------------------

class Spread(float):
    """A number measured once per seed: the float is the mean of :attr:`values`, :attr:`sd` their sample sd
    (ddof = 1). Arithmetic with a constant or another Spread of the same seeds works seed by seed, so a derived
    cell (a percentage, a ratio of two measured numbers) is the mean ± sd of the per-seed derived values.
    Comparisons use the mean. Formatting applies the spec to both: ``f"{s:.1f}"`` → ``'147.2 ± 3.1'``;
    ``str``, ``repr``, JSON and CSV give the mean alone.
    """

    values: tuple

    def __new__(cls, values):
        values = tuple(float(v) for v in values)
        if len(values) < 2:
            raise ValueError(f"a Spread needs at least two values, got {values}")
        self = super().__new__(cls, float(np.mean(values)))
        self.values = values
        return self

    @property
    def sd(self) -> float:
        return float(np.std(self.values, ddof=1))

    def __format__(self, spec: str) -> str:
        return f"{float.__format__(self, spec)} ± {format(self.sd, spec)}"

    def __getnewargs__(self):
        return (self.values,)

    def _apply(self, other, op):
        if isinstance(other, Spread):
            if len(other.values) != len(self.values):
                raise ValueError(f"Spreads over {len(self.values)} and {len(other.values)} seeds do not combine")
            return combine([op(a, b) for a, b in zip(self.values, other.values)])
        if isinstance(other, (int, float)) and not isinstance(other, bool):
            return combine([op(a, other) for a in self.values])
        return NotImplemented

    def __add__(self, other):
        return self._apply(other, operator.add)

    def __radd__(self, other):
        return self._apply(other, lambda a, b: b + a)

    def __sub__(self, other):
        return self._apply(other, operator.sub)

    def __rsub__(self, other):
        return self._apply(other, lambda a, b: b - a)

    def __mul__(self, other):
        return self._apply(other, operator.mul)

    def __rmul__(self, other):
        return self._apply(other, lambda a, b: b * a)

    def __truediv__(self, other):
        return self._apply(other, operator.truediv)

    def __rtruediv__(self, other):
        return self._apply(other, lambda a, b: b / a)

    def __neg__(self):
        return combine([-a for a in self.values])

    def __abs__(self):
        return combine([abs(a) for a in self.values])


def spread_of(value, num_seeds: int) -> float | None:
    """The sd of a cell over `num_seeds` seeds: a Spread's own; 0 for a number equal in every seed; None (unknown)
    with one seed."""
    if isinstance(value, Spread):
        return value.sd
    return 0.0 if num_seeds > 1 else None


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _same(a, b) -> bool:
    if _is_number(a) and _is_number(b):
        return a == b or (math.isnan(a) and math.isnan(b))
    return type(a) is type(b) and a == b


def combine(items: list):
    """Per-seed copies of one value (number, dict, list, text) → one: equal in every seed → that value; numbers that
    differ → a :class:`Spread`; dicts key by key (keys in every seed), lists of one length item by item; anything
    else that differs (a path, a hash) → the first seed's."""
    first = items[0]
    if all(_same(first, x) for x in items[1:]):
        return first
    if all(_is_number(x) for x in items):
        return Spread(items)
    if all(isinstance(x, dict) for x in items):
        return {k: combine([x[k] for x in items]) for k in first if all(k in x for x in items)}
    if all(isinstance(x, list) for x in items) and len({len(x) for x in items}) == 1:
        return [combine(list(column)) for column in zip(*items)]
    return first


# --- the seeds' run folders -----------------------------------------------------------------------

def seed_dir_name(seed: int) -> str:
    return f"seed{seed}"


def seed_runs(cfg) -> list[tuple[int, Path]]:
    """(seed, run folder) of every seed: `seeds` → <run_dir>/seed<k>/ each; `seeds: []` → [(seed, run_dir)]."""
    if not cfg.seeds:
        return [(cfg.seed, cfg.run_dir)]
    return [(k, cfg.run_dir / seed_dir_name(k)) for k in cfg.seeds]


def seed_overrides(cfg, overrides: list[str]) -> list[tuple[int, list[str]]]:
    """(seed, command-line overrides of its run): the study's overrides, then `seed=k experiment=<experiment>/seed<k>
    seeds=[]` (each seed's stages see a plain single-seed configuration); `seeds: []` → the overrides unchanged."""
    if not cfg.seeds:
        return [(cfg.seed, list(overrides))]
    return [(k, list(overrides) + [f"seed={k}", f"experiment={cfg.experiment}/{seed_dir_name(k)}", "seeds=[]"])
            for k in cfg.seeds]


def _csv_value(text: str):
    try:
        return float(text)
    except (TypeError, ValueError):
        return text


class SeedRuns:
    """The run folders of every seed of `cfg` read as one: a file (named by its path under ``cfg.run_dir``, as the
    layout gives it) is read in every seed's folder and combined (:func:`combine`); missing in any seed → None."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.runs = seed_runs(cfg)
        self.seeds = [seed for seed, _ in self.runs]

    @property
    def several(self) -> bool:
        """True for a `seeds` study (even of one seed): its tables are combined from the seed folders."""
        return bool(self.cfg.seeds)

    def paths(self, path: Path) -> list[Path]:
        """`path` (under cfg.run_dir) in every seed's run folder."""
        rel = Path(path).relative_to(self.cfg.run_dir)
        return [run / rel for _, run in self.runs]

    def first_seed(self, path: Path) -> Path:
        """`path` (under cfg.run_dir) in the first seed's run folder: the curves and figures the report shows."""
        return self.paths(path)[0]

    def _read(self, path: Path | list[Path], read):
        paths = self.paths(path) if isinstance(path, Path) else path
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            if len(missing) < len(paths):
                logger.warning("%s missing in %d of %d seeds (%s): its cells stay empty", paths[0].name,
                               len(missing), len(paths), ", ".join(missing))
            return None
        values = [read(p) for p in paths]
        return None if any(v is None for v in values) else combine(values)

    def json(self, path: Path) -> dict | None:
        return self._read(path, lambda p: json.loads(p.read_text()))

    def last_row(self, path: Path) -> dict | None:
        """The last row of a metrics.csv, numbers as floats (a Spread where the seeds differ); None when empty."""
        def read(p: Path):
            with open(p) as fh:
                rows = list(csv.DictReader(fh))
            return {k: _csv_value(v) for k, v in rows[-1].items()} if rows else None
        return self._read(path, read)

    def load(self, cfg, model: str, source: str, noise: float, eval_source: str, input: str = "xy") -> dict | None:
        """One evaluation's metrics.json over the seeds (the signature of utils.study.comparison's own loader). A noise
        level that is a Spread (the level matched to each seed's Probabilistic σ) reads each seed's own level."""
        noises = noise.values if isinstance(noise, Spread) else [noise] * len(self.runs)
        paths = [run / (layout.eval_dir(cfg, model, layout.source_tag(source, n, input), eval_source) / "metrics.json")
                 .relative_to(cfg.run_dir) for (_, run), n in zip(self.runs, noises)]
        return self._read(paths, lambda p: json.loads(p.read_text()))

    def matched_noise(self) -> dict | None:
        """The noise level matched to each seed's Probabilistic σ, as each seed's comparison recorded it
        (compare/tables.json, ``noise.matched``), combined; None when a seed has none."""
        paths = self.paths(self.cfg.run_dir / "compare" / "tables.json")
        if not all(p.is_file() for p in paths):
            return None
        matched = [(json.loads(p.read_text()).get("noise") or {}).get("matched") for p in paths]
        return combine(matched) if all(isinstance(m, dict) for m in matched) else None

    def baselines(self) -> dict:
        return self.json(self.cfg.run_dir / BASELINES_PATH) or {}


# --- time ---------------------------------------------------------------------------------------

def read_timings(run_dir: Path) -> dict:
    path = Path(run_dir) / "timings.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def summed_timings(shared: dict, per_seed: list[dict]) -> dict:
    """{stage: seconds} of the whole study: the stages run once (`shared`: data, inspect), then every other stage
    summed over the seeds that ran it."""
    out = dict(shared)
    for timings in per_seed:
        for stage, seconds in timings.items():
            out[stage] = round(out.get(stage, 0.0) + float(seconds), 1)
    return out

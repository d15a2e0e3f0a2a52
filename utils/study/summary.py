"""The report's opening "Summary": the study's question answered on this run, generated from the numbers.

Each line cites its cells as the tables print them (mean ± sd over the seeds) and gives a verdict:

- a cell marked † (not 2× better than its trivial baseline, :func:`utils.study.baselines.not_a_finding`) is never read
  as a finding: the line says so and compares nothing;
- a difference is *resolved* only when it exceeds the spread, |mean₁ − mean₂| > sd₁ + sd₂ (the two ±1 sd
  intervals do not overlap; sd over the seeds with ddof = 1, 0 for a number equal in every seed);
- with one seed the spread is unknown and nothing is resolved, which the summary says plainly.

The questions: does training or evaluating on the Probabilistic source beat the deterministic estimators
(lifting P1/P2, action top-1; each comparison changes one thing: the source at training, the source at
evaluation, or both), does TIC beat NLL and Diagonal on TAC, and are the covariances calibrated (2D 1σ / 2σ
coverage against 39.3 % / 86.5 %, 3D ECE against what a calibrated lifter scores at the same K).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from config import MODELS_2D
from utils.study.baselines import MARK, accuracy_baseline, not_a_finding
from utils.study.seeds import spread_of
from utils.study.tables import fmt
from utils.study.ways import Way, compared_models, ways

PROBABILISTIC = "Probabilistic"
GROUND_TRUTH = "GroundTruth"
MEANS = "ProbabilisticMean"  # the Probabilistic artifact's means, never sampled (dataloader.sources)
COVER1 = 100 * (1 - math.exp(-0.5))   # % of a 2D Gaussian inside its 1σ ellipse (39.3 %)
COVER2 = 100 * (1 - math.exp(-2.0))   # … inside its 2σ ellipse (86.5 %)
NO_COVARIANCE = ("MSE",)


@dataclass
class Cell:
    """One table cell as the summary cites it."""
    name: str                 # e.g. "Probabilistic → ViTPose"
    value: float | None       # a float, a utils.study.seeds.Spread (mean ± sd), or None when not measured
    unit: str = ""
    digits: int = 1
    dagger: bool = False      # † in its table: not 2× better than its trivial baseline

    def cite(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.name} {fmt(self.value, self.digits)}{MARK if self.dagger else ''}{unit}"

    @property
    def measured(self) -> bool:
        return self.value is not None and not math.isnan(self.value)


def _amount(x: float, cell: Cell) -> str:
    return f"{x:.{cell.digits}f}{' ' + cell.unit if cell.unit else ''}"


def resolve(a: Cell, b: Cell, num_seeds: int) -> str:
    """Why the cells a, b (b may be a fixed target) can or cannot be compared, or '' when the difference is resolved:
    the reasons name what is missing, the † cells, or the unknown or larger spread."""
    missing = [c.name for c in (a, b) if not c.measured]
    if missing:
        return f"not measured ({' and '.join(missing)})"
    daggers = [c.name for c in (a, b) if c.dagger]
    if daggers:
        return f"not a finding ({' and '.join(daggers)} {MARK}: not 2× better than the trivial baseline)"
    sa, sb = spread_of(a.value, num_seeds), spread_of(b.value, num_seeds)
    if sa is None or sb is None:
        return "not resolved (one seed)"
    delta, spread = abs(float(a.value) - float(b.value)), sa + sb
    if delta <= spread:
        return f"not resolved at this spread (difference {_amount(delta, a)} ≤ sd sum {_amount(spread, a)})"
    return ""


def verdict(a: Cell, b: Cell, num_seeds: int, lower_is_better: bool, words: tuple[str, str] | None = None) -> str:
    """'<a> vs <b>: <which is better, or why nothing is concluded>'. `words`: what to say when a is lower / higher
    (default: '<the better cell> better')."""
    text = f"{a.cite()} vs {b.cite()}"
    reason = resolve(a, b, num_seeds)
    if reason:
        return f"{text}: {reason}"
    delta = float(a.value) - float(b.value)
    spread = spread_of(a.value, num_seeds) + spread_of(b.value, num_seeds)
    if words:
        said = words[0] if delta < 0 else words[1]
    else:
        said = f"{(a if (delta < 0) == lower_is_better else b).name} better"
    return f"{text}: **{said}** by {_amount(abs(delta), a)} (> sd sum {_amount(spread, a)})"


# --- the cells --------------------------------------------------------------------------------------

def _lifting_cell(cfg, load, baselines: dict, train: str, evaluated: str, key: str) -> Cell:
    m = load(cfg, "GraphMLP", train, 0.0, evaluated)
    value = m[key] if m else None
    base = baselines.get("lifting", {}).get(key)
    return Cell(f"{train} → {evaluated}", value, "mm", 1,
                dagger=value is not None and base is not None and not_a_finding(value, base, "error"))


def _action_cell(cfg, load, baselines: dict, train: str, evaluated: str, split: str = "xsub") -> Cell:
    m = load(cfg, "SkateFormer", train, 0.0, evaluated)
    value = m[split]["top1"] * 100 if m and split in m else None  # absent: X-sub not among action.splits
    split_base = baselines.get("action", {}).get(split)
    base = 100 * accuracy_baseline(split_base) if split_base else None
    return Cell(f"{train} → {evaluated}", value, "%", 1,
                dagger=value is not None and base is not None and not_a_finding(value, base, "accuracy"))


def way_cell(cfg, load, baselines: dict, model: str, way: Way, evaluated: str) -> Cell:
    """The cell of one way of using the Probabilistic source (utils/study/ways.py) evaluated on `evaluated`: lifting
    P1 (mm) for GraphMLP, X-sub top-1 (%) for SkateFormer."""
    m = load(cfg, model, way.source, 0.0, evaluated, input=way.input)
    if model == "GraphMLP":
        value, base = (m["mpjpe_mm"] if m else None), baselines.get("lifting", {}).get("mpjpe_mm")
        unit, kind = "mm", "error"
    else:
        split_base = baselines.get("action", {}).get("xsub")
        value, base = (m["xsub"]["top1"] * 100 if m and "xsub" in m else None), (100 * accuracy_baseline(split_base) if split_base
                                                                  else None)
        unit, kind = "%", "accuracy"
    return Cell(f"{way.name} → {evaluated}", value, unit, 1,
                dagger=value is not None and base is not None and not_a_finding(value, base, kind))


def ways_lines(cfg, load, baselines: dict, model: str, num_seeds: int) -> list[str]:
    """Which way of using the Probabilistic source wins, evaluated on the Probabilistic 2D (the source each way is
    made for): the best cell against the runner-up, resolved only beyond the spread (:func:`verdict`)."""
    lower = model == "GraphMLP"
    pairs = [(w, way_cell(cfg, load, baselines, model, w, PROBABILISTIC)) for w in ways(cfg)]
    measured = sorted(((w, c) for w, c in pairs if c.measured), key=lambda p: float(p[1].value), reverse=not lower)
    if len(measured) < 2:
        return [f"evaluated on {PROBABILISTIC}: not measured ("
                + ", ".join(c.name for _, c in pairs if not c.measured) + ")"]
    (best, a), (_, b) = measured[:2]
    return [f"evaluated on {PROBABILISTIC}, the best way is *{best.name}*; against the runner-up, "
            + verdict(a, b, num_seeds, lower)]


def _best(cells: list[Cell], lower_is_better: bool) -> Cell | None:
    measured = [c for c in cells if c.measured]
    if not measured:
        return None
    return (min if lower_is_better else max)(measured, key=lambda c: float(c.value))


def _downstream_lines(cfg, load, baselines: dict, sources: list[str], num_seeds: int, cell, lower: bool) -> list[str]:
    """End to end, training and evaluation comparisons of Probabilistic against the better deterministic estimator."""
    deterministic = [s for s in MODELS_2D if s in sources]
    if PROBABILISTIC not in sources or not deterministic:
        return []
    out = []
    best = _best([cell(d, d) for d in deterministic], lower)
    if best:
        out.append("end to end: " + verdict(cell(PROBABILISTIC, PROBABILISTIC), best, num_seeds, lower))
    best = _best([cell(d, PROBABILISTIC) for d in deterministic], lower)
    if best:
        out.append("training: " + verdict(cell(PROBABILISTIC, PROBABILISTIC), best, num_seeds, lower))
    if GROUND_TRUTH in sources:
        best = _best([cell(GROUND_TRUTH, d) for d in deterministic], lower)
        if best:
            out.append("evaluating: " + verdict(cell(GROUND_TRUTH, PROBABILISTIC), best, num_seeds, lower))
    if MEANS in sources:  # the same artifact with and without sampling: what the covariance adds in training
        out.append("sampling in training: "
                   + verdict(cell(PROBABILISTIC, PROBABILISTIC), cell(MEANS, PROBABILISTIC), num_seeds, lower))
    return out


def _prob_cell(row: dict, method: str, key: str, scale: float, unit: str, digits: int) -> Cell:
    value = row.get(f"val_{method}_{key}")
    return Cell(method, None if value is None else scale * value, unit, digits)


def _mean_caveat(row: dict, methods: list[str], best_2d_error) -> str:
    marked = [m for m in methods if best_2d_error is not None and row.get(f"val_{m}_error_px") is not None
              and not_a_finding(row[f"val_{m}_error_px"], best_2d_error, "error")]
    return f" (2D error {MARK}: {', '.join(marked)})" if marked else ""


def summary_section(cfg, load, prob_row: dict | None, baselines: dict, num_seeds: int) -> list[str]:
    """The "Summary" section of report.md.

    Args:
        load: (cfg, model, train source, noise, eval source) → the evaluation's metrics dict or None
            (``utils.study.seeds.SeedRuns.load``: mean ± sd over the seeds).
        prob_row: the last row of the probabilistic estimator's metrics.csv (numbers), or None.
        baselines: compare/baselines.json (over the seeds).
        num_seeds: how many seeds the cells combine (1: the spread is unknown).
    """
    sources = list(cfg.compare.sources)
    if num_seeds > 1:
        intro = (f"{num_seeds} seeds: every cell is mean ± sd over them (sd with ddof = 1); a difference is "
                 "resolved only when it exceeds the spread, |Δ| > sd₁ + sd₂.")
    else:
        intro = ("**One seed: the spread is unknown, so no difference below is resolved**; the lines only cite the "
                 "cells (`python study.py seeds=0,1,2` measures the spread).")
    deterministic = ", ".join(s for s in MODELS_2D if s in sources)
    lines = ["## Summary", "",
             f"The study's question on this run, generated from the tables below. {intro} A cell marked {MARK} is "
             "not 2× better than its trivial baseline and is never read as a finding. Downstream, "
             f"{PROBABILISTIC} meets the better deterministic estimator ({deterministic}) of each comparison — "
             "*end to end*: each trained and evaluated on its own 2D; *training*: trained on either, evaluated on "
             f"the {PROBABILISTIC} 2D; *evaluating*: trained on {GROUND_TRUTH}, evaluated on either"
             + (f"; *sampling in training*: trained on the samples or on their means ({MEANS})" if MEANS in sources
                else "") + ".", ""]

    def block(title: str, parts: list[str]) -> list[str]:
        return [f"- {title}"] + [f"  - {p}" for p in parts] if parts else []

    for key, name in (("mpjpe_mm", "P1"), ("p_mpjpe_mm", "P2")):
        lines += block(f"**Lifting {name}** (GraphMLP, mm, lower is better):",
                       _downstream_lines(cfg, load, baselines, sources, num_seeds,
                                         lambda t, e, key=key: _lifting_cell(cfg, load, baselines, t, e, key), True))
    lines += block("**Action recognition** (SkateFormer, X-sub top-1 %, higher is better):",
                   _downstream_lines(cfg, load, baselines, sources, num_seeds,
                                     lambda t, e: _action_cell(cfg, load, baselines, t, e), False))

    if prob_row:
        methods = [k[len("val_"):-len("_tac_px")] for k in prob_row if k.endswith("_tac_px")]
        boxes = baselines.get("pose2d", {}).get("boxes", {})
        best_2d = min((b["error_px"] for b in boxes.values()), default=None)
        if "TIC" in methods:
            parts = []
            for other in ("NLL", "Diagonal"):
                if other in methods:
                    parts.append(verdict(_prob_cell(prob_row, "TIC", "tac_px", 1, "px", 2),
                                         _prob_cell(prob_row, other, "tac_px", 1, "px", 2), num_seeds, True)
                                 + _mean_caveat(prob_row, ["TIC", other], best_2d))
                else:
                    parts.append(f"{other} not trained (`prob.methods`)")
            lines += block("**TAC** (px, lower is better):", parts)
        method = cfg.prob.export_method
        if method in methods and method not in NO_COVARIANCE:
            parts = [f"{side}: " + verdict(_prob_cell(prob_row, method, key, 100, "%", 1),
                                           Cell("calibrated", target, "%", 1), num_seeds, lower_is_better=False,
                                           words=("too narrow (over-confident)", "too wide (under-confident)"))
                     for side, key, target in (("1σ", "cover1", COVER1), ("2σ", "cover2", COVER2))]
            lines += block(f"**2D calibration of {method}** (the covariance of the {PROBABILISTIC} source: "
                           "ground-truth joints inside its 1σ / 2σ ellipses)"
                           + _mean_caveat(prob_row, [method], best_2d) + ":", parts)

    for model in compared_models(cfg):
        what = ("lifting P1, GraphMLP, mm, lower is better" if model == "GraphMLP"
                else "action X-sub top-1, SkateFormer, %, higher is better")
        lines += block(f"**Ways of using the {PROBABILISTIC} source** ({what}; mean only, samples, uncertainty input, "
                       "samples + uncertainty input):", ways_lines(cfg, load, baselines, model, num_seeds))

    parts = []
    for s in sources:
        m = load(cfg, "GraphMLP", s, 0.0, PROBABILISTIC)
        cal = m.get("monte_carlo", {}).get("calibration") if m else None
        if cal:
            parts.append(f"trained on {s}: " + verdict(
                Cell("ECE", cal["ece"], digits=3), Cell("calibrated lifter", cal["ece_calibrated"], digits=3),
                num_seeds, lower_is_better=True, words=("below a calibrated lifter's", "miscalibrated")))
    lines += block(f"**3D calibration** of the lifted {PROBABILISTIC} samples (cGNF's ECE against what a calibrated "
                   "lifter scores at the same K):", parts)
    return lines + [""]

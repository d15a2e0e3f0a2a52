"""The report's Summary (utils/study/summary.py) on hand-made cells: a difference larger than the spread is resolved and
names the better cell, one within the spread is "not resolved at this spread", a † cell is never a finding, and
with one seed nothing is resolved."""
import pytest

from config import load_config
from utils.study.seeds import combine
from utils.study.summary import COVER1, Cell, summary_section, verdict

# |Δ| = 10, sd 1 + 1 = 2: resolved
LOW, HIGH = combine([99.0, 100.0, 101.0]), combine([109.0, 110.0, 111.0])
# |Δ| = 1.5, sd 1 + 1 = 2: not resolved (though larger than either sd alone)
NEAR = combine([100.5, 101.5, 102.5])


def test_a_difference_beyond_the_spread_names_the_better_cell():
    text = verdict(Cell("A", LOW, "mm"), Cell("B", HIGH, "mm"), 3, lower_is_better=True)
    assert text == "A 100.0 ± 1.0 mm vs B 110.0 ± 1.0 mm: **A better** by 10.0 mm (> sd sum 2.0 mm)"
    assert "**B better**" in verdict(Cell("A", LOW, "%"), Cell("B", HIGH, "%"), 3, lower_is_better=False)


def test_a_difference_within_the_spread_is_not_resolved():
    text = verdict(Cell("A", LOW, "mm"), Cell("B", NEAR, "mm"), 3, lower_is_better=True)
    assert text.endswith("not resolved at this spread (difference 1.5 mm ≤ sd sum 2.0 mm)")
    assert "better" not in text


def test_a_dagger_cell_is_never_a_finding():
    text = verdict(Cell("A", LOW, "mm", dagger=True), Cell("B", HIGH, "mm"), 3, lower_is_better=True)
    assert text.startswith("A 100.0 ± 1.0† mm vs B")
    assert "not a finding (A †" in text and " better**" not in text


def test_one_seed_resolves_nothing():
    text = verdict(Cell("A", 100.0, "mm"), Cell("B", 150.0, "mm"), 1, lower_is_better=True)
    assert text == "A 100.0 mm vs B 150.0 mm: not resolved (one seed)"
    # equal in every seed of several: sd 0, so any difference is resolved
    assert "**A better** by 50.0 mm" in verdict(Cell("A", 100.0, "mm"), Cell("B", 150.0, "mm"), 3, True)


def test_a_missing_cell_is_not_measured():
    assert verdict(Cell("A", None), Cell("B", LOW), 3, True).endswith("not measured (A)")


# --- the whole section on a hand-made study ---------------------------------------------------------

BASELINES = {"lifting": {"mpjpe_mm": 300.0, "p_mpjpe_mm": 250.0},
             "action": {sp: {"chance": 1 / 15, "majority_top1": 0.09} for sp in ("xsub", "xview")},
             "pose2d": {"boxes": {"keypoints": {"error_px": 100.0}}}}


def _load_from(cells: dict):
    def load(cfg, model, train, noise, evaluated):
        return cells.get((model, train, evaluated))
    return load


def _study():
    """P1: Probabilistic end to end 100 ± 1 against ViTPose 110 ± 1 (resolved) and Hourglass 120 (worse); training:
    ViTPose → Probabilistic 101.5 ± 1 (not resolved); evaluating: GroundTruth → Probabilistic at 160 mm (†, over half
    the 300 mm baseline). Actions: Probabilistic → Probabilistic at chance (†)."""
    spread = lambda m: combine([m - 1, m, m + 1])  # noqa: E731
    p1 = {("Probabilistic", "Probabilistic"): spread(100.0), ("ViTPose", "ViTPose"): spread(110.0),
          ("Hourglass", "Hourglass"): spread(120.0), ("ViTPose", "Probabilistic"): spread(101.5),
          ("Hourglass", "Probabilistic"): spread(130.0), ("GroundTruth", "Probabilistic"): spread(160.0),
          ("GroundTruth", "ViTPose"): spread(90.0), ("GroundTruth", "Hourglass"): spread(95.0)}
    cells = {("GraphMLP", t, e): {"mpjpe_mm": v, "p_mpjpe_mm": v / 2} for (t, e), v in p1.items()}
    cells[("GraphMLP", "Probabilistic", "Probabilistic")]["monte_carlo"] = {
        "calibration": {"ece": combine([0.30, 0.31, 0.32]), "ece_calibrated": combine([0.05, 0.06, 0.07])}}
    top1 = {("Probabilistic", "Probabilistic"): 1 / 15, ("ViTPose", "ViTPose"): combine([0.5, 0.52, 0.54]),
            ("Hourglass", "Hourglass"): combine([0.4, 0.41, 0.42])}
    cells.update({("SkateFormer", t, e): {"xsub": {"top1": v}, "xview": {"top1": v}} for (t, e), v in top1.items()})
    prob = {"val_TIC_tac_px": combine([10.0, 10.5, 11.0]), "val_NLL_tac_px": combine([10.2, 10.6, 11.0]),
            "val_Diagonal_tac_px": combine([30.0, 31.0, 32.0]), "val_TIC_cover1": combine([0.38, 0.39, 0.40]),
            "val_TIC_cover2": combine([0.60, 0.62, 0.64]), "val_TIC_error_px": 20.0, "val_NLL_error_px": 60.0,
            "val_Diagonal_error_px": 20.0}
    return _load_from(cells), prob


@pytest.fixture
def cfg():
    return load_config(["profile=test", "prob.methods=[Diagonal, NLL, TIC]", "prob.export_method=TIC"])


def _line(lines, start):
    found = [l for l in lines if l.lstrip("- ").startswith(start)]
    assert len(found) == 1, (start, lines)
    return found[0]


def test_the_summary_answers_each_question_from_the_cells(cfg):
    load, prob = _study()
    lines = summary_section(cfg, load, prob, BASELINES, num_seeds=3)
    assert lines[0] == "## Summary"
    p1 = lines[lines.index(_line(lines, "**Lifting P1**")) + 1:][:3]
    # end to end: resolved, against the better deterministic pipeline (ViTPose, not Hourglass)
    assert p1[0] == ("  - end to end: Probabilistic → Probabilistic 100.0 ± 1.0 mm vs ViTPose → ViTPose 110.0 ± 1.0 mm: "
                     "**Probabilistic → Probabilistic better** by 10.0 mm (> sd sum 2.0 mm)")
    # training: 1.5 mm apart, sd sum 2 mm
    assert p1[1].startswith("  - training: Probabilistic → Probabilistic 100.0 ± 1.0 mm vs ViTPose → Probabilistic")
    assert p1[1].endswith("not resolved at this spread (difference 1.5 mm ≤ sd sum 2.0 mm)")
    # evaluating: the probabilistic cell is † (160 mm > 300 / 2), never read
    assert p1[2].startswith("  - evaluating: GroundTruth → Probabilistic 160.0 ± 1.0† mm vs GroundTruth → ViTPose")
    assert "not a finding" in p1[2] and " better**" not in p1[2]
    action = lines[lines.index(_line(lines, "**Action recognition**")) + 1]
    assert "Probabilistic → Probabilistic 6.7† %" in action and "not a finding" in action
    tac = lines[lines.index(_line(lines, "**TAC**")) + 1:][:2]
    assert "TIC 10.50 ± 0.50 px vs NLL 10.60 ± 0.40 px: not resolved at this spread" in tac[0]
    assert "(2D error †: NLL)" in tac[0]   # NLL's mean is 60 px > 100 / 2: said beside its TAC
    assert "**TIC better** by 20.50 px" in tac[1]
    cal = lines[lines.index(_line(lines, "**2D calibration of TIC**")) + 1:][:2]
    assert cal[0].startswith(f"  - 1σ: TIC 39.0 ± 1.0 % vs calibrated {COVER1:.1f} %: not resolved at this spread")
    assert "**too narrow (over-confident)** by 24.5 %" in cal[1]
    ece = lines[lines.index(_line(lines, "**3D calibration**")) + 1]
    assert ece == ("  - trained on Probabilistic: ECE 0.310 ± 0.010 vs calibrated lifter 0.060 ± 0.010: "
                   "**miscalibrated** by 0.250 (> sd sum 0.020)")


def _first_seed(value):
    """The first seed's numbers of a hand-made study: a one-seed run."""
    if isinstance(value, dict):
        return {k: _first_seed(v) for k, v in value.items()}
    return value.values[0] if hasattr(value, "values") and isinstance(value, float) else value


def test_with_one_seed_the_summary_says_nothing_is_resolved(cfg):
    load, prob = _study()
    lines = summary_section(cfg, lambda *a: _first_seed(load(*a)), _first_seed(prob), BASELINES, num_seeds=1)
    text = "\n".join(lines)
    assert "One seed: the spread is unknown, so no difference below is resolved" in text
    assert " better**" not in text and "**miscalibrated**" not in text and "too narrow" not in text.split("- **")[-2]
    assert text.count("not resolved (one seed)") >= 8
    assert "not a finding" in text  # a † cell is still said to be one

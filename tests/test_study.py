"""The whole study end to end on the tiny synthetic root, over two seeds (`seeds=0,1`): every kind of stage once
per seed in seed0/ and seed1/ (each 2D estimator, TIC-TAC, a lifter and an action model on the ground truth, on a
deterministic artifact, on the probabilistic one and its ways, a noise level and the matched one, the comparison,
the figures), each seed's report.md with every table and figure, every table cell equal to its metrics file
(tests/report_check.py), the report over the seeds with every cell the mean ± sd of the seeds' files, and a second
run that skips what is up to date and keeps the skipped stages' seconds (study.py = `make demo`). Two stages at a
time (`local_jobs=2`), as `make demo` runs them: 5.8 min on 2026-12-07 evening."""
import json
import re

import pytest

from tests.helpers import run_stage
from tests.report_check import check_run
from utils.study.job import STAGE_SECONDS

OVERRIDES = [
    "experiment=e2e", "data.actions=[Walking, Phoning]", "data.cameras=[0, 1]",
    "pose2d.max_train_items=24", "pose2d.max_val_items=16", "pose2d.batch_size=8",
    "prob.methods=[Diagonal, TIC]", "prob.export_method=TIC", "prob.batch_size=8",
    "lifting.epochs=1", "action.epochs=1", "action.batch_size=8", "compare.noise_stds=[0.01]", "evaluate.num_samples=3",
    # every kind of downstream source once: a deterministic artifact, the probabilistic one, the ways of using it
    "compare.sources=[GroundTruth, ViTPose, Probabilistic, ProbabilisticMean, GroundTruthCov]",
    "compare.action_sources=[GroundTruth, Probabilistic]",
    "vis.max_frames=3", "vis.num_samples=2", "vis.pose_samples=2", "vis.dpi=50",
]


def test_study_over_two_seeds_runs_every_stage_per_seed_and_reports_mean_and_sd(tiny_root, tmp_path):
    base = ["profile=test", f"data.root={tiny_root}", f"output_root={tmp_path}", "data.train_subjects=[S1]",
            "data.test_subjects=[S9]", "data.num_workers=0", "seeds=0,1", "local_jobs=2"] + OVERRIDES
    code, out, err = run_stage("study.py", base, timeout=1200)
    assert code == 0, err[-4000:]
    top = tmp_path / "e2e"
    for seed in (0, 1):
        check_seed_run(top / f"seed{seed}")
    # the report over the seeds: every cell the mean ± sd (ddof = 1) of the two seeds' metrics files
    counter = check_run(top)
    assert counter.cells >= 100, counter.cells
    report = (top / "report.md").read_text()
    assert "seeds 0, 1 (" in report and report.count(" ± ") >= 20
    assert report.index("## Summary") < report.index("## 2D estimators")
    assert "2 seeds: every cell is mean ± sd" in report
    assert all((top / link).is_file() for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report))
    assert json.loads((top / "timings.json").read_text())["train 2D ViTPose"] == pytest.approx(
        sum(json.loads((top / f"seed{k}" / "timings.json").read_text())["train 2D ViTPose"] for k in (0, 1)), abs=0.05)

    # a second run finds everything up to date; each seed's time per stage still counts the stages it skipped
    before = {seed: stage_seconds(top / f"seed{seed}") for seed in (0, 1)}
    code, out, err = run_stage("study.py", base, timeout=600)
    assert code == 0, err[-4000:]
    assert (out + err).count("[skip]") >= 12
    for seed in (0, 1):
        after = stage_seconds(top / f"seed{seed}")
        skipped = [label for label in before[seed]
                   if label.startswith(("train ", "evaluate ")) and "matched" not in label]
        assert len(skipped) >= 16 and all(after[label] == before[seed][label] for label in skipped)
        timings = json.loads((top / f"seed{seed}" / "timings.json").read_text())
        downstream = [seconds for entry, seconds in after.values() if entry == "downstream + comparison"]
        assert timings["downstream + comparison"] == pytest.approx(sum(downstream), abs=0.05 * len(downstream))


def stage_seconds(run) -> dict[str, tuple[str, float]]:
    """Stage label → (its timings.json entry, its seconds), as the study recorded them."""
    return {label: tuple(v) for label, v in json.loads((run / STAGE_SECONDS).read_text()).items()}


def check_seed_run(run):
    """One seed's run folder: a complete single-seed study."""
    report = (run / "report.md").read_text()
    for heading in ("2D estimators", "2D error per joint", "Probabilistic 2D estimator", "2D→3D lifting", "Noise baseline",
                    "Action recognition", "Figures", "Time per stage"):
        assert heading in report, heading
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert len(links) >= 8
    for link in links:
        assert (run / link).is_file(), link
    assert any(link.endswith(".gif") for link in links)
    tables = json.loads((run / "compare" / "tables.json").read_text())
    assert all(v == v for row in tables["lifting"]["p1_mm"] for v in row)  # every cell filled (no NaN)
    # every table cell equals the metrics file it came from, in its column, marked against its baseline
    counter = check_run(run)
    assert counter.cells >= 100, counter.cells
    baselines = json.loads((run / "compare" / "baselines.json").read_text())
    assert set(baselines["pose2d"]["boxes"]) == {"keypoints", "silhouette"}
    assert (run / "compare" / "calibration_3d.png").is_file()
    timings = json.loads((run / "timings.json").read_text())
    assert {"train 2D ViTPose", "train 2D Hourglass", "predict 2D Probabilistic", "figures"} <= set(timings)

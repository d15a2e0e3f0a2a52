"""report.md and compare/tables.md show the numbers of the metrics files, in the columns they claim, with
the baseline marks where the rule puts them: the writers run on hand-written metrics files whose every
number differs from every other (a swapped column shows a wrong number), and tests/report_check.py reads
the result back independently."""

import numpy as np
import pytest
import yaml

from config import load_config, save_config
from tests.helpers import write_csv, write_json
from tests.report_check import MARK, check_run, one_table, sections
from utils.study.comparison import collect_tables
from utils.study.report import write_report

SOURCES = ["GroundTruth", "Hourglass", "ViTPose", "Probabilistic"]
NOISES = [0.01]
LIFT_BASE = {"mpjpe_mm": 200.0, "p_mpjpe_mm": 150.0, "mpjpe_mm_frame_weighted": 201.0,
             "p_mpjpe_mm_frame_weighted": 151.0, "frames": 100}
BASELINES = {
    "pose2d": {"frames": 16, "total_frames": 96, "max_val_items": 16, "train_frames": 200, "box_source": "silhouette",
               "boxes": {"keypoints": {"pck05": 0.28, "pck10": 0.55, "error_px": 30.0, "ap50": 0.97, "frames": 16},
                         "silhouette": {"pck05": 0.12, "pck10": 0.31, "error_px": 55.0, "ap50": 0.91, "frames": 16}}},
    "lifting": LIFT_BASE,
    "action": {"xsub": {"chance": 1 / 15, "majority_class": 2, "majority_top1": 0.09, "train_clips": 10,
                        "test_clips": 5, "majority_action": "Eating"},
               "xview": {"chance": 1 / 15, "majority_class": 2, "majority_top1": 0.05, "train_clips": 10,
                         "test_clips": 5, "majority_action": "Eating"}},
}


@pytest.fixture
def hand_run(tmp_path):
    """A run folder of hand-written metrics files; returns (cfg, run dir)."""
    cfg = load_config(["profile=test", f"output_root={tmp_path}", "experiment=hand", "compare.noise_stds=[0.01]",
                       "model_prob_pose=ViTPose", "predict.flip_test=false", "pose2d.max_val_items=16"])
    run = cfg.run_dir
    rng = np.random.default_rng(0)
    # 2D: Hourglass exactly at the stronger (keypoints-box) baseline error, ViTPose well below every baseline
    for model, error in (("Hourglass", 30.0), ("ViTPose", 9.871)):
        rows = [{"epoch": e, "train_loss": 0.1, "val_loss": 0.2, "val_pck05": 0.1 + 0.01 * e,
                 "val_pck10": 0.3 + 0.01 * e, "val_error_px": 50.0 - e, "val_ap50": 0.5} for e in (1, 2)]
        rows.append({"epoch": 3, "train_loss": 0.1, "val_loss": 0.2, "val_pck05": 0.4321 if model == "ViTPose" else 0.2,
                     "val_pck10": 0.8765 if model == "ViTPose" else 0.6, "val_error_px": error,
                     "val_ap50": 0.9912 if model == "ViTPose" else 0.98})
        write_csv(run / "2d" / model / "metrics.csv", rows)
        save_config(cfg, run / "2d" / model / "config.yml")
    prob = {"epoch": 3}
    for m, base in (("MSE", 11.0), ("NLL", 20.0), ("TIC", 70.0)):
        prob.update({f"val_{m}_error_px": base + 0.123, f"val_{m}_tac_px": base / 2 + 0.456, f"val_{m}_ll": -base - 0.77,
                     f"val_{m}_cover1": 0.2 + base / 1000, f"val_{m}_cover2": 0.8 + base / 1000})
    write_csv(run / "2d" / "Probabilistic_ViTPose" / "metrics.csv", [prob])
    save_config(cfg, run / "2d" / "Probabilistic_ViTPose" / "config.yml")
    # lifting: P1 and P2 of every cell distinct; GroundTruth → GroundTruth below half the baseline, one cell at it
    for i, train in enumerate(SOURCES + [f"GroundTruth_noise{n:g}" for n in NOISES]):
        for j, evaluated in enumerate(SOURCES):
            p1 = 200.0 if (train, evaluated) == ("Hourglass", "Hourglass") else 60.0 + 10 * i + j + rng.random()
            metrics = {"mpjpe_mm": p1, "p_mpjpe_mm": p1 / 2 + 3.3 + rng.random(), "mpjpe_mm_frame_weighted": p1 + 5}
            if evaluated == "Probabilistic" and "noise" not in train:
                metrics["monte_carlo"] = {
                    "num_samples": 4, "mean_spread_mm": 30.0 + i + rng.random(), "spread_error_correlation": 0.1 * i + 0.05,
                    "mpjpe_of_sample_mean_mm": p1 + 7.7, "calibration": {
                        "quantiles": [0.0, 0.5, 1.0], "fraction": [0.1, 0.4, 0.7], "fraction_calibrated": [0.2, 0.5, 0.8],
                        "ece": 0.111 + 0.01 * i, "ece_calibrated": 0.222 + 0.01 * i, "samples_per_curve": 3}}
            write_json(run / "eval" / f"GraphMLP_{train}_on_{evaluated}" / "metrics.json", metrics)
    # action: X-sub and X-view distinct; Probabilistic → Probabilistic at chance
    for i, train in enumerate(SOURCES):
        for j, evaluated in enumerate(SOURCES):
            xsub = 1 / 15 if train == evaluated == "Probabilistic" else 0.3 + 0.05 * i + 0.01 * j
            write_json(run / "eval" / f"SkateFormer_{train}_on_{evaluated}" / "metrics.json",
                       {"xsub": {"top1": xsub, "chance": 1 / 15}, "xview": {"top1": xsub / 2 + 0.0123, "chance": 1 / 15}})
    out = run / "compare"
    write_json(out / "baselines.json", BASELINES)
    # per joint: every number distinct; the Hourglass's wrists at the baseline's level
    names = ["Hip", "RHip", "RKnee", "RFoot", "LHip", "LKnee", "LFoot", "Spine", "Thorax", "Neck/Nose", "Head",
             "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist"]
    baseline = [20.0 + 3.1 * j for j in range(17)]
    joints = {"Hourglass": [4.0 + 0.37 * j for j in range(17)], "Probabilistic": [6.0 + 0.53 * j for j in range(17)]}
    for wrist in ("LWrist", "RWrist"):
        joints["Hourglass"][names.index(wrist)] = baseline[names.index(wrist)]
    write_json(out / "joints2d.json", {"frames": 96, "cameras": [0, 1], "joints": names, "baseline": baseline,
                                       "sources": joints})
    tables = collect_tables(cfg, out)
    (out / "tables.md").write_text(tables["markdown"])
    timings = {"data": 9.4, "train 2D ViTPose": 12.0}
    write_json(run / "timings.json", timings)
    write_report(cfg, timings)
    return cfg, run


def test_every_cell_equals_its_metrics_file(hand_run):
    _, run = hand_run
    counter = check_run(run)
    # 2D 4 rows × 6, TIC-TAC 3 × 5 − 3 n/a, lifting and noise 5 + 3 rows × 4 × 2, MC 4 × 7, action 5 × 4 × 2 + chance,
    # baselines 2 × 4 + 2 + 2 × 2, time 2
    assert counter.cells >= 24 + 12 + 64 + 28 + 41 + 14 + 2
    assert counter.marked > 0


def test_a_run_of_one_action_protocol_shows_that_protocol_alone(hand_run, tmp_path):
    # action.splits=[xsub] (the quick profile): one number per action cell, the X-sub one, read back from the files
    cfg = load_config(["profile=test", f"output_root={tmp_path}", "experiment=hand", "compare.noise_stds=[0.01]",
                       "model_prob_pose=ViTPose", "predict.flip_test=false", "pose2d.max_val_items=16",
                       "action.splits=[xsub]"])
    out = cfg.run_dir / "compare"
    tables = collect_tables(cfg, out)
    (out / "tables.md").write_text(tables["markdown"])
    write_report(cfg, {"data": 9.4, "train 2D ViTPose": 12.0})  # as hand_run wrote timings.json
    check_run(cfg.run_dir)
    parts = sections((cfg.run_dir / "report.md").read_text())
    heading = next(h for h in parts if h.startswith("Action recognition"))
    assert "X-sub (chance" in heading and "X-view" not in heading
    _, rows = one_table(parts[heading], "action")
    assert all(" / " not in cell for row in rows for cell in row[1:])
    assert tables["data"]["action"].keys() == {"xsub"}


def test_a_cell_at_its_baseline_is_marked(hand_run):
    _, run = hand_run
    report = (run / "report.md").read_text()
    parts = sections(report)
    header, rows = one_table(parts[next(h for h in parts if h.startswith("2D estimators"))], "2D")
    errors = {row[0]: row[header.index("2D error (px)")] for row in rows}
    assert errors["Hourglass"] == f"30.00{MARK}"      # the keypoints-box baseline's error exactly
    assert errors["ViTPose"] == "9.87"                # below half of it
    assert "not a finding" in report
    header, rows = one_table(parts[next(h for h in parts if h.startswith("2D→3D lifting"))], "lifting")
    lifting = {row[0]: row[1:] for row in rows}
    assert lifting["Hourglass"][header.index("Hourglass") - 1].startswith(f"200.0{MARK} / ")
    header, rows = one_table(parts[next(h for h in parts if h.startswith("Action recognition"))], "action")
    assert {row[0]: row[1:] for row in rows}["Probabilistic"][-1].startswith(f"6.7{MARK} / ")
    header, rows = one_table(parts["2D error per joint (full-frame px, every test-subject frame)"], "per joint")
    hourglass = dict(zip(header, next(row for row in rows if row[0] == "Hourglass")))
    assert hourglass["wrists"].endswith(MARK) and not hourglass["elbows"].endswith(MARK)


def test_labels_follow_the_run(hand_run):
    _, run = hand_run
    report = (run / "report.md").read_text()
    assert "without flip test" in report and "with flip test" not in report
    assert "16 of the 96 test-subject frames (`pose2d.max_val_items` = 16" in report
    assert "crops from the silhouette box" in report
    header, rows = one_table(sections(report)[next(h for h in sections(report) if h.startswith("Probabilistic 2D e"))],
                             "TIC-TAC")
    mse = next(r for r in rows if r[0] == "MSE")
    assert [mse[header.index(c)] for c in ("LL", "1σ (%)", "2σ (%)")] == ["n/a"] * 3
    # the flip-test label follows the run's own config.yml, not the current configuration
    cfg, run = hand_run
    saved = yaml.safe_load((run / "2d" / "ViTPose" / "config.yml").read_text())
    saved["predict"]["flip_test"] = True
    save_config(saved, run / "2d" / "ViTPose" / "config.yml")
    write_report(cfg, {})
    assert "ViTPose validation: 16 of the 96" in (run / "report.md").read_text()
    assert "with flip test" in (run / "report.md").read_text().split("ViTPose validation:")[1].splitlines()[0]


def test_a_missing_box_baseline_is_said_not_hidden(tmp_path):
    """Box files missing for data.box_source: the keypoints-box baseline stands and the table says why."""
    cfg = load_config(["profile=test", f"output_root={tmp_path}", "experiment=nobox"])
    out = cfg.run_dir / "compare"
    pose = dict(BASELINES["pose2d"], boxes={"keypoints": BASELINES["pose2d"]["boxes"]["keypoints"]},
                box_error="no person box file S9/MySegmentsMat/ground_truth_bb/Walking.54138969.mat")
    write_json(out / "baselines.json", dict(BASELINES, pose2d=pose))
    (out / "tables.md").write_text(collect_tables(cfg, out)["markdown"])
    write_report(cfg, {})
    assert "| 2D: mean training pose in the silhouette box | – | not computed: no person box file" in \
        (out / "tables.md").read_text()
    check_run(cfg.run_dir)


@pytest.mark.parametrize("swap", ["p1_p2", "pck", "xsub_xview", "mc_columns", "joints"])
def test_the_checker_catches_a_swapped_column(hand_run, swap):
    """The reader is not vacuous: the written tables with two columns swapped fail it."""
    _, run = hand_run
    path = run / "report.md"
    text = path.read_text()
    lines = text.splitlines()
    for i, line in enumerate(lines):
        cells = line.split(" | ")
        if swap == "p1_p2" and line.startswith("| GroundTruth |") and " / " in line and "%" not in line:
            lines[i] = " | ".join(" / ".join(c.split(" / ")[::-1]) if " / " in c else c for c in cells)
            break
        if swap == "pck" and line.startswith("| ViTPose | 3 |"):
            cells[2], cells[3] = cells[3], cells[2]
            lines[i] = " | ".join(cells)
            break
        if swap == "xsub_xview" and line.startswith("| Hourglass |") and i > text[:text.index("## Action")].count("\n"):
            lines[i] = " | ".join(" / ".join(c.split(" / ")[::-1]) if " / " in c else c for c in cells)
            break
        if swap == "joints" and line.startswith("| Probabilistic |") and i > text[:text.index("## 2D error per")].count("\n"):
            cells[2], cells[3] = cells[3], cells[2]
            lines[i] = " | ".join(cells)
            break
        if swap == "mc_columns" and line.startswith("| ViTPose | 4 |"):
            cells[2], cells[3] = cells[3], cells[2]
            lines[i] = " | ".join(cells)
            break
    else:
        raise AssertionError(f"no line to break for {swap}")
    path.write_text("\n".join(lines))
    with pytest.raises(AssertionError):
        check_run(run)


def test_the_covariance_isolating_sources_and_the_matched_noise_get_rows_and_columns(tmp_path):
    """ProbabilisticMean and GroundTruth+Σ are rows of the lifting table; GroundTruth+Σ is also a column, while
    ProbabilisticMean's column is the Probabilistic one (both evaluate on the means); the matched noise level is a
    row of the noise table; the action table takes compare.action_sources. Every cell is read back by
    tests/report_check.py from the metrics file of its run folder (GroundTruthCov)."""
    sources, columns = ["GroundTruth", "Probabilistic", "ProbabilisticMean", "GroundTruthCov"], \
        ["GroundTruth", "Probabilistic", "GroundTruthCov"]
    cfg = load_config(["profile=test", f"output_root={tmp_path}", "experiment=cov", "compare.noise_stds=[0.01]",
                       f"compare.sources=[{', '.join(sources)}]", "compare.action_sources=[GroundTruth, GroundTruthCov]"])
    run, rng = cfg.run_dir, np.random.default_rng(1)
    matched = {"noise_std": 0.0432, "noise_std_exact": 0.04321, "sigma_px": 21.6, "subjects": ["S1"], "cameras": [0]}
    for i, train in enumerate(sources + ["GroundTruth_noise0.01", "GroundTruth_noise0.0432"]):
        for j, evaluated in enumerate(columns):
            p1 = 60.0 + 10 * i + j + rng.random()
            metrics = {"mpjpe_mm": p1, "p_mpjpe_mm": p1 / 2 + rng.random()}
            if evaluated == "Probabilistic" and "noise" not in train:
                metrics["monte_carlo"] = {"num_samples": 4, "mean_spread_mm": 30.0 + i, "spread_error_correlation": 0.1,
                                          "mpjpe_of_sample_mean_mm": p1 + 1.5,
                                          "calibration": {"quantiles": [0.0, 1.0], "fraction": [0.1, 0.9],
                                                          "fraction_calibrated": [0.0, 1.0], "ece": 0.1 + 0.01 * i,
                                                          "ece_calibrated": 0.05, "samples_per_curve": 3}}
            write_json(run / "eval" / f"GraphMLP_{train}_on_{evaluated}" / "metrics.json", metrics)
    for i, train in enumerate(["GroundTruth", "GroundTruthCov"]):
        for j, evaluated in enumerate(["GroundTruth", "GroundTruthCov"]):
            write_json(run / "eval" / f"SkateFormer_{train}_on_{evaluated}" / "metrics.json",
                       {"xsub": {"top1": 0.3 + 0.1 * i + 0.01 * j}, "xview": {"top1": 0.2 + 0.1 * i + 0.02 * j}})
    out = run / "compare"
    write_json(out / "baselines.json", {"lifting": LIFT_BASE, "action": BASELINES["action"]})
    tables = collect_tables(cfg, out, matched=matched)
    (out / "tables.md").write_text(tables["markdown"])
    write_report(cfg, {})
    counter = check_run(run)
    parts = sections((out / "tables.md").read_text())
    header, rows = one_table(parts[next(h for h in parts if h.startswith("2D→3D lifting"))], "lifting")
    assert header[1:] == ["GroundTruth", "Probabilistic", "GroundTruth+Σ"]
    assert [r[0] for r in rows][:4] == ["GroundTruth", "Probabilistic", "ProbabilisticMean", "GroundTruth+Σ"]
    header, rows = one_table(parts[next(h for h in parts if h.startswith("Noise baseline"))], "noise")
    assert [r[0] for r in rows][:3] == ["0", "0.01", "0.0432 (matched: mean Probabilistic σ, 21.6 px)"]
    header, rows = one_table(parts[next(h for h in parts if h.startswith("Probabilistic 2D through"))], "MC")
    assert [r[0] for r in rows] == ["GroundTruth", "Probabilistic", "ProbabilisticMean", "GroundTruth+Σ"]
    header, rows = one_table(parts[next(h for h in parts if h.startswith("Action recognition"))], "action")
    assert header[1:] == ["GroundTruth", "GroundTruth+Σ"] and [r[0] for r in rows][:2] == header[1:]
    # lifting 5 rows × 3 × 2, noise 4 × 3 × 2, MC 4 × 5, action 3 × 2 × 2 + chance, baselines 2 + 2 × 2
    assert counter.cells >= 30 + 24 + 20 + 13 + 6
    assert tables["data"]["noise"]["matched"] == matched


def test_the_ways_of_using_the_probabilistic_source_get_one_table_per_task_and_a_verdict(tmp_path):
    """compare.uncertainty_comparison=[GraphMLP, SkateFormer] over 3 seeds: each task's table has the four ways
    (mean only, samples, uncertainty input, samples + uncertainty input) × every evaluation source, read back cell by
    cell from the seeds' run folders by tests/report_check.py; the sentence names the winner on Probabilistic only
    when it beats the runner-up beyond the spread. Lifting P1 on Probabilistic: 90, 80, 60, 70 (± 1 over the
    seeds; baseline 200 mm), so 'uncertainty input' wins by 10 mm > sd sum 2 mm; action X-sub top-1: 30, 31, 30.5, 30.8 % (± 1), so
    nothing is resolved."""
    from utils.study.summary import summary_section
    from utils.study.seeds import SeedRuns

    cfg = load_config(["profile=test", f"output_root={tmp_path}", "experiment=ways", "seeds=[0, 1, 2]",
                       "compare.sources=[GroundTruth, Probabilistic]", "compare.action_sources=[GroundTruth, Probabilistic]",
                       "compare.noise_stds=[]", "compare.matched_noise=false",
                       "compare.uncertainty_comparison=[GraphMLP, SkateFormer]"])
    trains = ["ProbabilisticMean", "Probabilistic", "ProbabilisticMean_xy_cov", "Probabilistic_xy_cov"]
    lift_p1 = dict(zip(trains, (90.0, 80.0, 60.0, 70.0)))
    top1 = dict(zip(trains, (0.30, 0.31, 0.305, 0.308)))
    for k, delta in enumerate((-1.0, 0.0, 1.0)):
        run = cfg.run_dir / f"seed{k}"
        write_json(run / "compare" / "baselines.json", {"lifting": LIFT_BASE, "action": BASELINES["action"]})
        for i, train in enumerate(trains):
            for j, evaluated in enumerate(["GroundTruth", "Probabilistic"]):
                p1 = lift_p1[train] + delta + (0 if evaluated == "Probabilistic" else 7.0 + i + 0.1 * j)
                write_json(run / "eval" / f"GraphMLP_{train}_on_{evaluated}" / "metrics.json",
                           {"mpjpe_mm": p1, "p_mpjpe_mm": p1 / 2 + 0.3 * i})
                acc = top1[train] + delta / 100 + 0.002 * j
                write_json(run / "eval" / f"SkateFormer_{train}_on_{evaluated}" / "metrics.json",
                           {"xsub": {"top1": acc}, "xview": {"top1": acc - 0.05 - 0.001 * i}})
    report = write_report(cfg, {})
    counter = check_run(cfg.run_dir)
    assert counter.cells >= 2 * (4 * 2 * 2 + 2 * 2)
    parts = sections((cfg.run_dir / "compare" / "tables.md").read_text())
    lift_heading = next(h for h in parts if h.startswith("Ways of using the Probabilistic source, 2D→3D lifting"))
    header, rows = one_table(parts[lift_heading], "ways")
    assert header == ["way", "trained on", "input", "GroundTruth", "Probabilistic"]
    assert [r[:3] for r in rows[:4]] == [["mean only", "ProbabilisticMean", "xy"], ["samples", "Probabilistic", "xy"],
                                         ["uncertainty input (xy+cov)", "ProbabilisticMean", "xy+cov"],
                                         ["samples + uncertainty input (xy+cov)", "Probabilistic", "xy+cov"]]
    text = "\n".join(parts[lift_heading])
    assert ("the best way is *uncertainty input (xy+cov)*; against the runner-up, uncertainty input (xy+cov) → "
            "Probabilistic 60.0 ± 1.0 mm vs samples + uncertainty input (xy+cov) → Probabilistic 70.0 ± 1.0 mm: "
            "**uncertainty input (xy+cov) → Probabilistic better** by 10.0 mm (> sd sum 2.0 mm)") in text
    action_heading = next(h for h in parts if h.startswith("Ways of using the Probabilistic source, action"))
    assert "not resolved at this spread" in "\n".join(parts[action_heading])
    runs = SeedRuns(cfg)
    summary = "\n".join(summary_section(cfg, runs.load, None, runs.baselines(), 3))
    assert summary.count("**Ways of using the Probabilistic source**") == 2
    assert "uncertainty input (xy+cov) → Probabilistic 60.0 ± 1.0 mm vs samples + uncertainty input" in summary
    assert "Ways of using" in report.read_text()

"""A study over seeds (`python study.py seeds=0,1,2`, utils/study/seeds.py): the `seeds` key, one run folder per seed
with the seed's overrides, and report.md whose every cell is the mean ± sd (ddof = 1) over the seeds' metrics
files: three hand-written seed folders whose numbers differ from seed to seed (some are equal in every seed),
read back by tests/report_check.py, which computes mean and sd with numpy from the same files."""
import csv
import json
import re

import numpy as np
import pytest

from config import ConfigError, load_config, save_config
from tests.helpers import write_csv, write_json
from tests.report_check import check_run, one_table, sections
from utils.study.report import write_report
from utils.study.seeds import SeedRuns, Spread, combine, seed_overrides, seed_runs, summed_timings
from utils.study.plan import plan

SEEDS = [0, 1, 2]
SOURCES = ["GroundTruth", "Hourglass", "ViTPose", "Probabilistic"]


# --- the key and the run folders ---------------------------------------------------------------

@pytest.mark.parametrize("override", ["seeds=0,1,2", "seeds=[0,1,2]", "seeds=[0, 1, 2]"])
def test_seeds_parse_from_the_command_line(override):
    assert load_config([override]).seeds == [0, 1, 2]


@pytest.mark.parametrize("override, message", [
    (["seeds=0,a"], "must list integer seeds"), (["seeds=3"], "one run with seed k: seed=k"),
    (["seeds=[1, 1]"], "distinct integer seeds"), (["seeds=[-1]"], "distinct integer seeds"),
])
def test_bad_seeds_name_the_key(override, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(override)


def test_no_seeds_is_one_run_at_todays_paths(tmp_path):
    cfg = load_config(["profile=test", f"output_root={tmp_path}", "experiment=one", "seed=4"])
    assert seed_runs(cfg) == [(4, tmp_path / "one")]
    assert seed_overrides(cfg, ["a=1"]) == [(4, ["a=1"])]


def test_each_seed_runs_every_stage_after_the_data_in_its_own_folder(tmp_path):
    overrides = ["profile=test", f"output_root={tmp_path}", "experiment=many", f"data.root={tmp_path}/data",
                 "seeds=0,1"]
    cfg = load_config(overrides)
    stages = plan(cfg, overrides)
    once = [s for s in stages if s.seed is None]
    assert [s.name for s in once] == ["inspect"] and once[0].run_dir == cfg.run_dir  # data.root is not synthetic
    for seed in (0, 1):
        mine = [s for s in stages if s.seed == seed]
        assert {s.name for s in mine} >= {"train 2D ViTPose", "train TIC-TAC ViTPose", "predict 2D Probabilistic",
                                          "downstream + comparison", "figures"}
        assert all(s.run_dir == tmp_path / "many" / f"seed{seed}" for s in mine)
        # every command of the seed's stages gets seed=k and the seed's folder, and a plain single-seed configuration
        run_cfg = load_config(mine[0].overrides)
        assert (run_cfg.seed, run_cfg.seeds, run_cfg.run_dir) == (seed, [], tmp_path / "many" / f"seed{seed}")
        assert mine[0].outputs[0].is_relative_to(run_cfg.run_dir)
    single = plan(load_config(overrides[:-1]), overrides[:-1])
    assert {s.run_dir for s in single} == {tmp_path / "many"} and all(s.seed is None for s in single)


# --- numbers over seeds ----------------------------------------------------------------------------

def test_spread_is_numpy_mean_and_sd_and_derived_cells_work_seed_by_seed():
    a, b = combine([1.0, 2.0, 4.0]), combine([2.0, 2.0, 8.0])
    assert float(a) == pytest.approx(7 / 3) and a.sd == pytest.approx(np.std([1, 2, 4], ddof=1))
    assert f"{a:.2f}" == "2.33 ± 1.53" and str(a) == repr(float(a)) and json.dumps(a) == json.dumps(float(a))
    ratio = a / b  # per seed: 0.5, 1, 0.5 — not mean(a) / mean(b)
    assert float(ratio) == pytest.approx(2 / 3) and ratio.sd == pytest.approx(np.std([0.5, 1, 0.5], ddof=1))
    assert (100 * a).values == (100.0, 200.0, 400.0) and (1 - a).values == (0.0, -1.0, -3.0)
    assert combine([3, 3, 3]) == 3 and type(combine([3, 3, 3])) is int  # equal in every seed: as it is
    assert a / a == 1.0 and not isinstance(a / a, Spread)
    nested = combine([{"k": 4, "x": [1.0, 2.0], "t": "a"}, {"k": 4, "x": [1.0, 3.0], "t": "b"}])
    assert nested["k"] == 4 and nested["x"][0] == 1.0 and nested["x"][1].values == (2.0, 3.0) and nested["t"] == "a"


def test_timings_sum_over_the_seeds():
    assert summed_timings({"data": 9.0}, [{"train 2D ViTPose": 10.1, "figures": 3.0}, {"train 2D ViTPose": 11.2}]) \
        == {"data": 9.0, "train 2D ViTPose": 21.3, "figures": 3.0}


# --- a report over three hand-written seed folders ---------------------------------------------------


MATCHED = [0.0432, 0.0441, 0.045]  # the noise level matched to each seed's own Probabilistic σ


def _write_seed(cfg, seed: int, rng) -> None:
    """One seed's run folder: numbers that move with the seed, some cells equal in every seed (K, the lifting and
    action baselines, one lifting cell), Probabilistic → Probabilistic action at chance (†), a noise level matched
    to the seed's own σ (its compare/tables.json records it)."""
    run = cfg.run_dir
    matched = {"noise_std": MATCHED[seed], "noise_std_exact": MATCHED[seed] + 1e-5, "sigma_px": 21.6 + seed,
               "subjects": ["S1"], "cameras": [0, 1]}
    write_json(run / "compare" / "tables.json", {"noise": {"matched": matched}})
    for model, error in (("Hourglass", 31.0), ("ViTPose", 9.0)):
        rows = [{"epoch": 1, "val_pck05": 0.1, "val_pck10": 0.3, "val_error_px": 60.0, "val_ap50": 0.5},
                {"epoch": 2, "val_pck05": 0.40 + 0.01 * seed, "val_pck10": 0.80 + 0.02 * rng.random(),
                 "val_error_px": error + seed + rng.random(), "val_ap50": 0.99}]
        write_csv(run / "2d" / model / "metrics.csv", rows)
        save_config(cfg, run / "2d" / model / "config.yml")
    prob = {"epoch": 2}
    for m, base in (("MSE", 11.0), ("NLL", 20.0), ("TIC", 70.0)):
        prob.update({f"val_{m}_error_px": base + rng.random(), f"val_{m}_tac_px": base / 2 + rng.random(),
                     f"val_{m}_ll": -base - rng.random(), f"val_{m}_cover1": 0.3 + 0.05 * rng.random(),
                     f"val_{m}_cover2": 0.8 + 0.05 * rng.random()})
    write_csv(run / "2d" / "Probabilistic_ViTPose" / "metrics.csv", [prob])
    save_config(cfg, run / "2d" / "Probabilistic_ViTPose" / "config.yml")
    for i, train in enumerate(SOURCES + ["GroundTruth_noise0.01", f"GroundTruth_noise{MATCHED[seed]:g}"]):
        for j, evaluated in enumerate(SOURCES):
            p1 = 70.0 if (train, evaluated) == ("GroundTruth", "GroundTruth") else 80.0 + 10 * i + j + 5 * rng.random()
            metrics = {"mpjpe_mm": p1, "p_mpjpe_mm": p1 / 2 + rng.random()}
            if evaluated == "Probabilistic" and "noise" not in train:
                metrics["monte_carlo"] = {
                    "num_samples": 4, "mean_spread_mm": 30.0 + i + rng.random(), "spread_error_correlation": 0.1 * i,
                    "mpjpe_of_sample_mean_mm": p1 + 2 * rng.random(),
                    "calibration": {"quantiles": [0.0, 1.0], "fraction": [0.1, 0.9], "fraction_calibrated": [0.0, 1.0],
                                    "ece": 0.2 + 0.01 * rng.random(), "ece_calibrated": 0.05, "samples_per_curve": 3}}
            write_json(run / "eval" / f"GraphMLP_{train}_on_{evaluated}" / "metrics.json", metrics)
    for i, train in enumerate(SOURCES):
        for j, evaluated in enumerate(SOURCES):
            xsub = 1 / 15 if train == evaluated == "Probabilistic" else 0.3 + 0.05 * i + 0.01 * j + 0.02 * rng.random()
            write_json(run / "eval" / f"SkateFormer_{train}_on_{evaluated}" / "metrics.json",
                       {"xsub": {"top1": xsub}, "xview": {"top1": xsub / 2 + 0.01 * rng.random()}})
    boxes = {"keypoints": {"pck05": 0.28 + 0.01 * seed, "pck10": 0.55, "error_px": 30.0 + rng.random(), "ap50": 0.97},
             "silhouette": {"pck05": 0.12, "pck10": 0.31, "error_px": 55.0, "ap50": 0.91}}
    write_json(run / "compare" / "baselines.json", {
        "pose2d": {"frames": 16, "total_frames": 96, "max_val_items": 16, "box_source": "silhouette", "boxes": boxes},
        "lifting": {"mpjpe_mm": 200.0, "p_mpjpe_mm": 150.0, "frames": 100},
        "action": {sp: {"chance": 1 / 15, "majority_top1": 0.09, "test_clips": 5, "majority_action": "Eating"}
                   for sp in ("xsub", "xview")}})
    write_json(run / "timings.json", {"train 2D ViTPose": 10.0 + seed, "figures": 2.5})


@pytest.fixture
def seeds_run(tmp_path):
    """Three seed folders of hand-written metrics and the report over them; returns (cfg, run dir)."""
    common = ["profile=test", f"output_root={tmp_path}", "compare.noise_stds=[0.01]", "predict.flip_test=false",
              "pose2d.max_val_items=16"]
    cfg = load_config(common + ["experiment=hand", "seeds=0,1,2"])
    rng = np.random.default_rng(7)
    for seed, run_overrides in seed_overrides(cfg, common + ["experiment=hand", "seeds=0,1,2"]):
        _write_seed(load_config(run_overrides), seed, rng)
    timings = summed_timings({"data": 9.4}, [json.loads((cfg.run_dir / f"seed{k}" / "timings.json").read_text())
                                             for k in SEEDS])
    write_json(cfg.run_dir / "timings.json", timings)
    write_report(cfg, timings)
    return cfg, cfg.run_dir


def test_every_cell_is_the_mean_and_sd_of_the_seeds(seeds_run):
    _, run = seeds_run
    counter = check_run(run)  # numpy's mean and sd (ddof = 1) of the three seeds' files, cell by cell
    assert counter.cells >= 24 + 12 + 64 + 28 + 41 and counter.marked > 0
    report = (run / "report.md").read_text()
    assert "seeds 0, 1, 2 (" in report and "seed0/, seed1/, seed2/" in report
    parts = sections(report)
    header, rows = one_table(parts[next(h for h in parts if h.startswith("2D→3D lifting"))], "lifting")
    cells = {row[0]: row[1:] for row in rows}
    # a cell equal in every seed prints alone, one that moves prints mean ± sd, computed here once more by hand
    assert cells["GroundTruth"][0].startswith("70.0 / ")
    p1 = [json.loads((run / f"seed{k}" / "eval" / "GraphMLP_Hourglass_on_ViTPose" / "metrics.json").read_text())
          ["mpjpe_mm"] for k in SEEDS]
    assert cells["Hourglass"][header.index("ViTPose") - 1].startswith(
        f"{np.mean(p1):.1f} ± {np.std(p1, ddof=1):.1f} / ")
    assert "K" in report and "| GroundTruth | 4 |" in report  # K is the same in every seed
    assert f"6.7† / " in report  # at chance in every seed: marked, and printed alone
    assert "## Time per stage (this machine, summed over the seeds)" in report
    # the matched noise row reads each seed's own level
    assert f"| {np.mean(MATCHED):g} ± {np.std(MATCHED, ddof=1):g} (matched: mean Probabilistic σ, 22.6 ± 1.0 px) |" \
        in report
    # the figures and curves are the first seed's
    assert "](seed0/2d/ViTPose/curves.png)" in report


def test_the_summary_reads_the_spread(seeds_run):
    _, run = seeds_run
    summary = sections((run / "report.md").read_text())["Summary"]
    text = "\n".join(summary)
    assert "3 seeds: every cell is mean ± sd" in text
    assert "not 2× better than the trivial baseline" in text     # Probabilistic → Probabilistic action at chance
    assert "±" in text and "one seed" not in text


@pytest.mark.parametrize("tamper", ["sd", "seed0", "mark"])
def test_the_checker_catches_a_wrong_spread(seeds_run, tamper):
    """The aggregated check is not vacuous: a wrong sd, a cell showing one seed's number, a dropped † all fail."""
    _, run = seeds_run
    path = run / "report.md"
    text = path.read_text()
    if tamper == "sd":
        old = re.search(r"\| Hourglass \| ([\d.]+) ± ([\d.]+) / ", text)
        new = old.group(0).replace(f"± {old.group(2)}", f"± {float(old.group(2)) + 0.2:.1f}")
    elif tamper == "seed0":
        old = re.search(r"\| ViTPose \| 2 \| ([\d.]+ ± [\d.]+)†? \|", text)
        r = list(csv.DictReader(open(run / "seed0" / "2d" / "ViTPose" / "metrics.csv")))[-1]
        new = old.group(0).replace(old.group(1), f"{float(r['val_pck05']):.3f}")
    else:
        old = re.search(r"6\.7† / ", text)
        new = old.group(0).replace("†", "")
    assert old and new != old.group(0)
    path.write_text(text.replace(old.group(0), new, 1))
    with pytest.raises(AssertionError):
        check_run(run)


def test_a_seed_without_an_evaluation_leaves_the_cell_empty(seeds_run):
    cfg, run = seeds_run
    (run / "seed1" / "eval" / "GraphMLP_ViTPose_on_Hourglass" / "metrics.json").unlink()
    assert SeedRuns(cfg).load(cfg, "GraphMLP", "ViTPose", 0.0, "Hourglass") is None
    write_report(cfg, {})
    parts = sections((run / "report.md").read_text())
    header, rows = one_table(parts[next(h for h in parts if h.startswith("2D→3D lifting"))], "lifting")
    assert {row[0]: row[1:] for row in rows}["ViTPose"][header.index("Hourglass") - 1] == "– / –"
    check_run(run)

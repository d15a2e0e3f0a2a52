"""What compare.py runs and how it tabulates the results (see compare.py)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dataloader.h36m import ACTIONS
from utils import layout
from utils.baselines import FOOTNOTE, MARK, accuracy_baseline, marked
from utils.tables import calibration_figure, fmt, heatmap_figure, markdown_table, write_csv

SPLITS = ("xsub", "xview")
SPLIT_NAMES = {"xsub": "X-sub", "xview": "X-view"}


def available_sources(cfg) -> tuple[list[str], list[tuple[str, str]]]:
    """Sources of `compare.sources` that exist (GroundTruth always), and the missing ones with their command."""
    ok, missing = [], []
    for s in cfg.compare.sources:
        if s == "GroundTruth" or (layout.prediction_dir(cfg, s) / "meta.json").is_file():
            ok.append(s)
        else:
            missing.append((s, layout.prediction_command(s)))
    return ok, missing


def _mtime(path: Path) -> float:
    return path.stat().st_mtime if path.exists() else -1.0


def _input_time(cfg, source: str) -> float:
    return 0.0 if source == "GroundTruth" else _mtime(layout.prediction_dir(cfg, source) / "meta.json")


def _trained(cfg, model: str, source: str, noise: float) -> Path:
    run = layout.downstream_dir(cfg, model, layout.source_tag(source, noise))
    return run / ("xview" if model == "SkateFormer" else "") / "last.pt"


def _fresh(output: Path, *inputs: float) -> bool:
    return output.exists() and all(_mtime(output) >= t for t in inputs)


def planned_runs(cfg, force: bool = False):
    """(commands [(script, args)], missing sources) to train and evaluate every cell that is stale."""
    sources, missing = available_sources(cfg)
    train_runs = [("GraphMLP", s, 0.0) for s in sources]
    train_runs += [("GraphMLP", "GroundTruth", n) for n in cfg.compare.noise_stds]
    train_runs += [("SkateFormer", s, 0.0) for s in sources]
    commands = []
    for model, source, noise in train_runs:
        ckpt = _trained(cfg, model, source, noise)
        args = [f"model_3D_prediction={model}", f"model_2D_prediction={source}", f"noise_std={noise:g}"]
        if force or not _fresh(ckpt, _input_time(cfg, source)):
            commands.append(("main.py", args))
        for eval_source in sources:
            out = layout.eval_dir(cfg, model, layout.source_tag(source, noise), eval_source) / "metrics.json"
            stale = force or not _fresh(out, _input_time(cfg, eval_source)) or _mtime(out) < _mtime(ckpt) \
                or ("main.py", args) in commands
            if stale:
                commands.append(("get3Dprediction.py", args + [f"model_2D_dataset={eval_source}"]))
    return commands, missing


def _load(cfg, model, source, noise, eval_source) -> dict | None:
    path = layout.eval_dir(cfg, model, layout.source_tag(source, noise), eval_source) / "metrics.json"
    return json.loads(path.read_text()) if path.is_file() else None


BASELINES_FILE = "baselines.json"  # compare/baselines.json: written by compare.py, read by the tables and the report
LIFTING_BASELINE_ROW = "mean training pose (baseline)"
ACTION_BASELINE_ROW = "majority class (baseline)"


def read_baselines(out_dir: Path) -> dict:
    path = Path(out_dir) / BASELINES_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def _cell(value: float, baseline: float | None, kind: str, digits: int = 1) -> str:
    return marked(fmt(value, digits), value, baseline, kind)


def _with_footnote(table: str) -> list[str]:
    return [table, "", FOOTNOTE, ""] if MARK in table else [table, ""]


def baselines_markdown(baselines: dict) -> list[str]:
    """The 'Trivial baselines' section: every baseline number the marks of the tables compare with."""
    rows = []
    pose = baselines.get("pose2d")
    if pose:
        for box, b in pose["boxes"].items():
            rows.append([f"2D: mean training pose in the {box} box", f"{pose['frames']} validation frames",
                         f"PCK@0.05 {fmt(b['pck05'], 3)}, PCK@0.1 {fmt(b['pck10'], 3)}, "
                         f"error {fmt(b['error_px'], 2)} px, AP50 {fmt(b['ap50'], 3)}"])
        if "box_error" in pose:
            rows.append([f"2D: mean training pose in the {pose['box_source']} box", "–",
                         f"not computed: {pose['box_error']}"])
    lift = baselines.get("lifting")
    if lift:
        rows.append(["lifting: mean training 3D pose", f"{lift['frames']} test frames",
                     f"P1 {fmt(lift['mpjpe_mm'])} mm, P2 {fmt(lift['p_mpjpe_mm'])} mm (action-wise)"])
    for split, b in baselines.get("action", {}).items():
        rows.append([f"action {SPLIT_NAMES[split]}: chance / majority class ({b['majority_action']})",
                     f"{b['test_clips']} test clips",
                     f"{fmt(100 * b['chance'])} % / {fmt(100 * b['majority_top1'])} %"])
    if not rows:
        return []
    return ["## Trivial baselines", "",
            "What each table's cells must beat by 2× to count as a finding (computed from the data by compare.py, "
            "`compare/baselines.json`).", "",
            markdown_table(["baseline", "scored on", "value"], rows), ""]


def collect_tables(cfg, out_dir: Path, baselines: dict | None = None) -> dict:
    """Read every evaluation and write CSV + figures; returns markdown and the raw numbers.

    `baselines` (default: compare/baselines.json) marks every cell that does not beat its trivial baseline by 2×.
    """
    sources = list(cfg.compare.sources)
    baselines = read_baselines(out_dir) if baselines is None else baselines
    lift_base = baselines.get("lifting", {})
    base_p1, base_p2 = lift_base.get("mpjpe_mm"), lift_base.get("p_mpjpe_mm")
    md, data = [], {"baselines": baselines}

    # 1. lifting: train source × eval source
    p1 = np.full((len(sources), len(sources)), np.nan)
    p2 = np.full_like(p1, np.nan)
    for i, s in enumerate(sources):
        for j, e in enumerate(sources):
            m = _load(cfg, "GraphMLP", s, 0.0, e)
            if m:
                p1[i, j], p2[i, j] = m["mpjpe_mm"], m["p_mpjpe_mm"]
    rows = [[s] + [f"{_cell(p1[i, j], base_p1, 'error')} / {_cell(p2[i, j], base_p2, 'error')}"
                   for j in range(len(sources))] for i, s in enumerate(sources)]
    if lift_base:
        rows.append([LIFTING_BASELINE_ROW] + [f"{fmt(base_p1)} / {fmt(base_p2)}"] * len(sources))
    md += ["## 2D→3D lifting (GraphMLP): MPJPE / P-MPJPE in mm, action-wise average, test subjects",
           "", "Rows: 2D source the lifter was trained on; columns: 2D source it is evaluated on. Baseline: the mean "
           "training 3D pose predicted for every test frame.", "",
           *_with_footnote(markdown_table(["trained on \\ evaluated on"] + sources, rows))]
    write_csv(out_dir / "lifting_p1_mm.csv", ["trained_on"] + sources, [[s, *p1[i]] for i, s in enumerate(sources)])
    write_csv(out_dir / "lifting_p2_mm.csv", ["trained_on"] + sources, [[s, *p2[i]] for i, s in enumerate(sources)])
    if np.isfinite(p1).any():
        heatmap_figure(out_dir / "lifting_p1.png", p1, sources, sources, "GraphMLP MPJPE (P1)", "mm")
        heatmap_figure(out_dir / "lifting_p2.png", p2, sources, sources, "GraphMLP P-MPJPE (P2)", "mm")
    data["lifting"] = {"sources": sources, "p1_mm": p1.tolist(), "p2_mm": p2.tolist()}

    # 2. noise baseline: GroundTruth + noise, evaluated on every source
    noises = [0.0] + list(cfg.compare.noise_stds)
    noise_rows, noise_p1 = [], np.full((len(noises), len(sources)), np.nan)
    noise_p2 = np.full_like(noise_p1, np.nan)
    for i, n in enumerate(noises):
        cells = []
        for j, e in enumerate(sources):
            m = _load(cfg, "GraphMLP", "GroundTruth", n, e)
            if m:
                noise_p1[i, j], noise_p2[i, j] = m["mpjpe_mm"], m["p_mpjpe_mm"]
            cells.append(f"{_cell(m['mpjpe_mm'], base_p1, 'error')} / {_cell(m['p_mpjpe_mm'], base_p2, 'error')}"
                         if m else "–")
        noise_rows.append([f"{n:g}"] + cells)
    if lift_base:
        noise_rows.append([LIFTING_BASELINE_ROW] + [f"{fmt(base_p1)} / {fmt(base_p2)}"] * len(sources))
    md += ["## Noise baseline: GraphMLP trained on GroundTruth + N(0, s²) (normalised units), P1 / P2 mm", "",
           *_with_footnote(markdown_table(["s \\ evaluated on"] + sources, noise_rows))]
    write_csv(out_dir / "noise_p1_mm.csv", ["noise_std"] + sources, [[n, *noise_p1[i]] for i, n in enumerate(noises)])
    write_csv(out_dir / "noise_p2_mm.csv", ["noise_std"] + sources, [[n, *noise_p2[i]] for i, n in enumerate(noises)])
    data["noise"] = {"noise_stds": noises, "p1_mm": noise_p1.tolist(), "p2_mm": noise_p2.tolist()}

    # 3. Monte-Carlo samples of the probabilistic source through each lifter
    mc_rows, mc_data, curves = [], {}, {}
    for s in sources:
        m = _load(cfg, "GraphMLP", s, 0.0, "Probabilistic")
        if m and "monte_carlo" in m:
            mc = m["monte_carlo"]
            cal = mc.get("calibration")
            mc_rows.append([s, str(mc["num_samples"]), fmt(mc["mean_spread_mm"]),
                            fmt(mc["spread_error_correlation"], 3), _cell(m["mpjpe_mm"], base_p1, "error"),
                            _cell(mc["mpjpe_of_sample_mean_mm"], base_p1, "error"),
                            fmt(cal["ece"], 3) if cal else "–", fmt(cal["ece_calibrated"], 3) if cal else "–"])
            mc_data[s] = {"num_samples": mc["num_samples"], "mean_spread_mm": mc["mean_spread_mm"],
                          "spread_error_correlation": mc["spread_error_correlation"], "p1_of_mean_2d_mm": m["mpjpe_mm"],
                          "p1_of_sample_mean_mm": mc["mpjpe_of_sample_mean_mm"], "calibration": cal}
            if cal:
                curves[s] = cal
    if mc_rows:
        md += ["## Probabilistic 2D through the lifter: K Monte-Carlo samples", "",
               "Spread = RMS distance of the K lifted samples from their mean, per joint, averaged over the 16 "
               "non-root joints (mm); correlation = Pearson r between that spread and the actual per-joint error of the "
               "lifted mean 2D, over (frame, non-root joint); both P1 columns are action-wise averages, as every P1 "
               "here. 3D ECE: cGNF's calibration error (mean over q = 0, 0.05, …, 1 of |fraction of ground-truth "
               "joints within the q-quantile of the samples' distances from their median − q|), leave-one-out with "
               "K − 1 samples; 'if calibrated': the same number with a sample of the lifter in place of the ground "
               "truth, what a calibrated lifter scores at this K (a calibrated lifter lies on the diagonal only for "
               "large K). Curves: `calibration_3d.png`.", "",
               *_with_footnote(markdown_table(["trained on", "K", "3D spread (mm)", "corr(spread, error)",
                                               "P1 of mean 2D (mm)", "P1 of mean of samples (mm)", "3D ECE",
                                               "ECE if calibrated"], mc_rows))]
        data["monte_carlo"] = mc_data
        if curves:
            calibration_figure(out_dir / "calibration_3d.png", curves)

    # 4. action recognition: train source × eval source, per split
    act_base = baselines.get("action", {})
    acc_base = {sp: 100 * accuracy_baseline(act_base[sp]) if sp in act_base else None for sp in SPLITS}
    acc = {sp: np.full((len(sources), len(sources)), np.nan) for sp in SPLITS}
    for i, s in enumerate(sources):
        for j, e in enumerate(sources):
            m = _load(cfg, "SkateFormer", s, 0.0, e)
            if m:
                for sp in SPLITS:
                    acc[sp][i, j] = m[sp]["top1"] * 100
    rows = [[s] + [" / ".join(_cell(acc[sp][i, j], acc_base[sp], "accuracy") for sp in SPLITS)
                   for j in range(len(sources))] for i, s in enumerate(sources)]
    if act_base:
        rows.append([ACTION_BASELINE_ROW] + [" / ".join(fmt(100 * act_base[sp]["majority_top1"]) for sp in SPLITS)]
                    * len(sources))
    chance = 100 * next(iter(act_base.values()))["chance"] if act_base else 100 / len(ACTIONS)
    md += [f"## Action recognition (SkateFormer): top-1 % X-sub / X-view (chance {fmt(chance)} %)", "",
           "Baselines: chance, and the majority class of the training clips scored on the test clips; a cell must "
           "reach twice the stronger of the two.", "",
           *_with_footnote(markdown_table(["trained on \\ evaluated on"] + sources, rows))]
    for sp in SPLITS:
        write_csv(out_dir / f"action_{sp}_top1.csv", ["trained_on"] + sources, [[s, *acc[sp][i]] for i, s in enumerate(sources)])
        if np.isfinite(acc[sp]).any():
            heatmap_figure(out_dir / f"action_{sp}.png", acc[sp], sources, sources,
                           f"SkateFormer top-1 ({SPLIT_NAMES[sp]})", "%", lower_is_better=False)
    data["action"] = {sp: acc[sp].tolist() for sp in SPLITS}
    md += baselines_markdown(baselines)
    return {"markdown": "\n".join(md), "data": data}

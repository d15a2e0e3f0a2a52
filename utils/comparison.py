"""What compare.py runs and how it tabulates the results (see compare.py)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from utils import layout
from utils.tables import fmt, heatmap_figure, markdown_table, write_csv

SPLITS = ("xsub", "xview")


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


def collect_tables(cfg, out_dir: Path) -> dict:
    """Read every evaluation and write CSV + figures; returns markdown and the raw numbers."""
    sources = list(cfg.compare.sources)
    md, data = [], {}

    # 1. lifting: train source × eval source
    p1 = np.full((len(sources), len(sources)), np.nan)
    p2 = np.full_like(p1, np.nan)
    for i, s in enumerate(sources):
        for j, e in enumerate(sources):
            m = _load(cfg, "GraphMLP", s, 0.0, e)
            if m:
                p1[i, j], p2[i, j] = m["mpjpe_mm"], m["p_mpjpe_mm"]
    rows = [[s] + [f"{fmt(p1[i, j])} / {fmt(p2[i, j])}" for j in range(len(sources))] for i, s in enumerate(sources)]
    md += ["## 2D→3D lifting (GraphMLP): MPJPE / P-MPJPE in mm, action-wise average, test subjects",
           "", "Rows: 2D source the lifter was trained on; columns: 2D source it is evaluated on.", "",
           markdown_table(["trained on \\ evaluated on"] + sources, rows), ""]
    write_csv(out_dir / "lifting_p1_mm.csv", ["trained_on"] + sources, [[s, *p1[i]] for i, s in enumerate(sources)])
    write_csv(out_dir / "lifting_p2_mm.csv", ["trained_on"] + sources, [[s, *p2[i]] for i, s in enumerate(sources)])
    if np.isfinite(p1).any():
        heatmap_figure(out_dir / "lifting_p1.png", p1, sources, sources, "GraphMLP MPJPE (P1)", "mm")
        heatmap_figure(out_dir / "lifting_p2.png", p2, sources, sources, "GraphMLP P-MPJPE (P2)", "mm")
    data["lifting"] = {"sources": sources, "p1_mm": p1.tolist(), "p2_mm": p2.tolist()}

    # 2. noise baseline: GroundTruth + noise, evaluated on every source
    noises = [0.0] + list(cfg.compare.noise_stds)
    noise_rows, noise_p1 = [], np.full((len(noises), len(sources)), np.nan)
    for i, n in enumerate(noises):
        cells = []
        for j, e in enumerate(sources):
            m = _load(cfg, "GraphMLP", "GroundTruth", n, e)
            noise_p1[i, j] = m["mpjpe_mm"] if m else np.nan
            cells.append(f"{fmt(m['mpjpe_mm'])} / {fmt(m['p_mpjpe_mm'])}" if m else "–")
        noise_rows.append([f"{n:g}"] + cells)
    md += ["## Noise baseline: GraphMLP trained on GroundTruth + N(0, s²) (normalised units), P1 / P2 mm", "",
           markdown_table(["s \\ evaluated on"] + sources, noise_rows), ""]
    write_csv(out_dir / "noise_p1_mm.csv", ["noise_std"] + sources, [[n, *noise_p1[i]] for i, n in enumerate(noises)])
    data["noise"] = {"noise_stds": noises, "p1_mm": noise_p1.tolist()}

    # 3. Monte-Carlo spread of the probabilistic source
    mc_rows = []
    for s in sources:
        m = _load(cfg, "GraphMLP", s, 0.0, "Probabilistic")
        if m and "monte_carlo" in m:
            mc = m["monte_carlo"]
            mc_rows.append([s, str(mc["num_samples"]), fmt(mc["mean_spread_mm"]), fmt(mc["spread_error_correlation"], 3),
                            fmt(m["mpjpe_mm"]), fmt(mc["mpjpe_of_sample_mean_mm"])])
    if mc_rows:
        md += ["## Probabilistic 2D through the lifter: K Monte-Carlo samples", "",
               "Spread = RMS distance of the K lifted samples from their mean, per joint, averaged (mm); "
               "correlation = Pearson r between that spread and the actual per-joint error of the mean prediction.", "",
               markdown_table(["trained on", "K", "3D spread (mm)", "corr(spread, error)", "P1 of mean 2D (mm)",
                               "P1 of mean of samples (mm)"], mc_rows), ""]
        data["monte_carlo"] = mc_rows

    # 4. action recognition: train source × eval source, per split
    acc = {sp: np.full((len(sources), len(sources)), np.nan) for sp in SPLITS}
    for i, s in enumerate(sources):
        for j, e in enumerate(sources):
            m = _load(cfg, "SkateFormer", s, 0.0, e)
            if m:
                for sp in SPLITS:
                    acc[sp][i, j] = m[sp]["top1"] * 100
    rows = [[s] + [f"{fmt(acc['xsub'][i, j])} / {fmt(acc['xview'][i, j])}" for j in range(len(sources))]
            for i, s in enumerate(sources)]
    md += ["## Action recognition (SkateFormer): top-1 % X-sub / X-view (chance 6.7 %)", "",
           markdown_table(["trained on \\ evaluated on"] + sources, rows), ""]
    for sp in SPLITS:
        write_csv(out_dir / f"action_{sp}_top1.csv", ["trained_on"] + sources, [[s, *acc[sp][i]] for i, s in enumerate(sources)])
        if np.isfinite(acc[sp]).any():
            heatmap_figure(out_dir / f"action_{sp}.png", acc[sp], sources, sources,
                           f"SkateFormer top-1 ({'X-sub' if sp == 'xsub' else 'X-view'})", "%", lower_is_better=False)
    data["action"] = {sp: acc[sp].tolist() for sp in SPLITS}
    return {"markdown": "\n".join(md), "data": data}

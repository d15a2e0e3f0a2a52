"""checkpoint/<experiment>/report.md: every table of the study and a link to every figure."""
from __future__ import annotations

import csv
import datetime
import os
from pathlib import Path

from config import MODELS_2D
from utils import layout
from utils.tables import fmt, markdown_table


def _last_row(csv_path: Path) -> dict | None:
    if not csv_path.is_file():
        return None
    with open(csv_path) as fh:
        rows = list(csv.DictReader(fh))
    return rows[-1] if rows else None


def _rel(path: Path, base: Path) -> str:
    return os.path.relpath(path, base)


def _image(path: Path, base: Path, caption: str) -> str:
    return f"![{caption}]({_rel(path, base)})"


def pose2d_section(cfg, base: Path) -> list[str]:
    rows, curves = [], []
    for model in MODELS_2D:
        run = layout.pose2d_dir(cfg, model)
        r = _last_row(run / "metrics.csv")
        if r:
            rows.append([model, r["epoch"], fmt(float(r["val_pck05"]), 3), fmt(float(r["val_pck10"]), 3),
                         fmt(float(r["val_error_px"]), 2), fmt(float(r["val_ap50"]), 3)])
            curves.append(_image(run / "curves.png", base, f"{model} training curves"))
    if not rows:
        return []
    return ["## 2D estimators (validation on the test subjects, last epoch)", "",
            "PCK@α: fraction of joints within α × the longer side of the ground-truth box; error: mean joint "
            "distance in full-frame pixels (flip test, sub-pixel decoding); AP50: the original study's figure, "
            "defined here as PCK at half the ground-truth box diagonal.", "",
            markdown_table(["model", "epochs", "PCK@0.05", "PCK@0.1", "2D error (px)", "AP50 (study)"], rows), "",
            *curves, ""]


def prob_section(cfg, base: Path) -> list[str]:
    run = layout.prob_dir(cfg, cfg.model_prob_pose)
    r = _last_row(run / "metrics.csv")
    if not r:
        return []
    methods = [k[len("val_"):-len("_tac_px")] for k in r if k.endswith("_tac_px")]
    rows = [[m, fmt(float(r[f"val_{m}_error_px"]), 2), fmt(float(r[f"val_{m}_tac_px"]), 2),
             fmt(float(r[f"val_{m}_ll"]), 1), fmt(100 * float(r[f"val_{m}_cover1"]), 1),
             fmt(100 * float(r[f"val_{m}_cover2"]), 1)] for m in methods]
    return [f"## Probabilistic 2D estimator (TIC-TAC on {cfg.model_prob_pose}), test subjects, full-frame pixels", "",
            "TAC: error of the conditional mean of each joint given the ground truth of all others (lower is better); "
            "LL: Gaussian log-likelihood of the ground truth (higher is better); 1σ / 2σ: fraction of ground-truth "
            "joints inside the ellipses of their 2×2 marginal (a calibrated model gives 39.3 % / 86.5 %).", "",
            markdown_table(["method", "2D error (px)", "TAC (px)", "LL", "1σ (%)", "2σ (%)"], rows), "",
            _image(run / "curves.png", base, "TIC-TAC training curves"), ""]


def write_report(cfg, timings: dict) -> Path:
    base = cfg.run_dir
    base.mkdir(parents=True, exist_ok=True)
    out = base / "report.md"
    lines = [f"# Study report: {cfg.experiment}", "",
             f"Profile `{cfg.profile}`, data `{cfg.data.root}`, seed {cfg.seed}, generated "
             f"{datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} by `python study.py` (`make demo`).", ""]
    if cfg.data.root == "data/synthetic":
        lines += ["> Synthetic Human3.6M (procedural motion, rendered frames): the numbers test the pipeline, "
                  "not the published models. See dataloader/synthetic/README.md.", ""]
    lines += pose2d_section(cfg, base)
    lines += prob_section(cfg, base)
    tables = base / "compare" / "tables.md"
    if tables.is_file():
        lines += [tables.read_text(), ""]
        lines += [_image(p, base, p.stem) for p in sorted((base / "compare").glob("*.png"))] + [""]
    figures = sorted(p for p in layout.figures_dir(cfg).glob("*") if p.suffix in (".png", ".gif"))
    if figures:
        lines += ["## Figures", ""] + [f"- {_image(p, base, p.stem)}" for p in figures] + [""]
    if timings:
        lines += ["## Time per stage (this machine)", "",
                  markdown_table(["stage", "seconds"], [[k, fmt(float(v), 0)] for k, v in timings.items()]), ""]
    out.write_text("\n".join(lines))
    return out

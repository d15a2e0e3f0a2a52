"""checkpoint/<experiment>/report.md: every table of the study and a link to every figure."""
from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

import yaml

from config import MODELS_2D, to_dict
from utils.engine import layout
from utils.study.baselines import FOOTNOTE, MARK, marked
from utils.study.comparison import collect_tables
from utils.study.joints2d import FILE as JOINTS2D_FILE, joints2d_section
from utils.study.seeds import SeedRuns
from utils.study.summary import summary_section
from utils.study.tables import fmt, markdown_table


def _rel(path: Path, base: Path) -> str:
    return os.path.relpath(path, base)


def _image(path: Path, base: Path, caption: str) -> str:
    return f"![{caption}]({_rel(path, base)})"


def _run_config(run: Path, cfg) -> dict:
    """The configuration a run was made with (its config.yml), else the current one."""
    path = run / "config.yml"
    return yaml.safe_load(path.read_text()) if path.is_file() else to_dict(cfg)


def _validation_note(run_cfg: dict, pose_base: dict) -> str:
    """What the 2D validation metrics were computed on: subset, box, flip test (as the run was configured)."""
    pose2d, data = run_cfg.get("pose2d", {}), run_cfg.get("data", {})
    max_items = pose2d.get("max_val_items", 0)
    if pose_base and pose_base.get("max_val_items") == max_items:  # the baselines' subset is this run's
        frames = f"{pose_base['frames']} of the {pose_base['total_frames']} test-subject frames"
    else:
        frames = f"at most {max_items} test-subject frames" if max_items else "every test-subject frame"
    flip = "with" if run_cfg.get("predict", {}).get("flip_test") else "without"
    return (f"{frames} (`pose2d.max_val_items` = {max_items}, frame stride {data.get('frame_stride', 1)}, "
            f"cameras {data.get('cameras')}), crops from the {data.get('box_source', 'keypoints')} box, "
            f"{flip} flip test (`predict.flip_test`), sub-pixel decoding.")


def _strongest(pose_base: dict) -> dict | None:
    """The strongest 2D baseline of each metric over the box sources (what a model must beat)."""
    boxes = list(pose_base.get("boxes", {}).values()) if pose_base else []
    if not boxes:
        return None
    return {"error_px": min(b["error_px"] for b in boxes), "pck05": max(b["pck05"] for b in boxes),
            "pck10": max(b["pck10"] for b in boxes), "ap50": max(b["ap50"] for b in boxes)}


def pose2d_section(cfg, base: Path, baselines: dict, runs: SeedRuns) -> list[str]:
    pose_base = baselines.get("pose2d", {})
    best = _strongest(pose_base) or {}
    boxes = pose_base.get("boxes", {})
    ratio_headers = [f"error ÷ {box}-box baseline" for box in boxes]
    rows, curves, notes = [], [], []
    for model in MODELS_2D:
        run = layout.pose2d_dir(cfg, model)
        r = runs.last_row(run / "metrics.csv")
        if r:
            error = r["val_error_px"]
            rows.append([model, fmt(r["epoch"], 0),
                         marked(fmt(r["val_pck05"], 3), r["val_pck05"], best.get("pck05"), "fraction"),
                         marked(fmt(r["val_pck10"], 3), r["val_pck10"], best.get("pck10"), "fraction"),
                         marked(fmt(error, 2), error, best.get("error_px"), "error"),
                         marked(fmt(r["val_ap50"], 3), r["val_ap50"], best.get("ap50"), "fraction")]
                        + [fmt(error / b["error_px"], 2) for b in boxes.values()])
            shown = runs.first_seed(run)
            curves.append(_image(shown / "curves.png", base, f"{model} training curves"))
            notes.append(f"{model} validation: {_validation_note(_run_config(shown, cfg), pose_base)}")
    if not rows:
        return []
    for box, b in boxes.items():
        rows.append([f"mean pose in the {box} box (baseline)", "–", fmt(b["pck05"], 3), fmt(b["pck10"], 3),
                     fmt(b["error_px"], 2), fmt(b["ap50"], 3)] + [fmt(b["error_px"] / o["error_px"], 2)
                                                                  for o in boxes.values()])
    table = markdown_table(["model", "epochs", "PCK@0.05", "PCK@0.1", "2D error (px)", "AP50 (study)"] + ratio_headers,
                           rows)
    return ["## 2D estimators (validation on the test subjects, last epoch)", "",
            "PCK@α: fraction of joints within α × the longer side of the ground-truth joint box; error: mean joint "
            "distance in full-frame pixels; AP50: the original study's figure, defined here as PCK at half the "
            "ground-truth box diagonal. Baselines: the mean training pose (box-normalised) placed in each "
            "validation frame's box, scored on the same frames (`compare/baselines.json`): the keypoints box is "
            "the tight ground-truth joint box; a † compares a cell with the strongest baseline of its column.", "",
            *[f"- {n}" for n in notes], "",
            table, "", *([FOOTNOTE, ""] if MARK in table else []),
            *curves, ""]


NO_COVARIANCE = ("MSE",)  # methods whose Σ is the identity in heatmap px² (arbitrary): no LL or calibration


def prob_section(cfg, base: Path, baselines: dict, runs: SeedRuns) -> list[str]:
    run = layout.prob_dir(cfg, cfg.model_prob_pose)
    r = runs.last_row(run / "metrics.csv")
    if not r:
        return []
    best = _strongest(baselines.get("pose2d", {})) or {}
    methods = [k[len("val_"):-len("_tac_px")] for k in r if k.endswith("_tac_px")]

    def covariance_cell(m: str, key: str, scale: float, digits: int) -> str:
        return "n/a" if m in NO_COVARIANCE else fmt(scale * r[f"val_{m}_{key}"], digits)

    rows = [[m, marked(fmt(r[f"val_{m}_error_px"], 2), r[f"val_{m}_error_px"], best.get("error_px"), "error"),
             fmt(r[f"val_{m}_tac_px"], 2), covariance_cell(m, "ll", 1, 1), covariance_cell(m, "cover1", 100, 1),
             covariance_cell(m, "cover2", 100, 1)] for m in methods]
    run = runs.first_seed(run)
    table = markdown_table(["method", "2D error (px)", "TAC (px)", "LL", "1σ (%)", "2σ (%)"], rows)
    return [f"## Probabilistic 2D estimator (TIC-TAC on {cfg.model_prob_pose}), test subjects, full-frame pixels", "",
            "TAC: error of the conditional mean of each joint given the ground truth of all others (lower is better); "
            "LL: Gaussian log-likelihood of the ground truth (higher is better); 1σ / 2σ: fraction of ground-truth "
            "joints inside the ellipses of their 2×2 marginal (a calibrated model gives 39.3 % / 86.5 %). MSE has "
            "no covariance (Σ = I in heatmap px², arbitrary): its LL and calibration are n/a, its TAC equals its "
            "2D error. The 2D error is marked against the 2D estimators' baselines (same validation frames).", "",
            "Validation: " + _validation_note(_run_config(run, cfg), baselines.get("pose2d", {})), "",
            table, "", *([FOOTNOTE, ""] if MARK in table else []),
            _image(run / "curves.png", base, "TIC-TAC training curves"), ""]


def _header(cfg, runs: SeedRuns) -> list[str]:
    when = datetime.datetime.now().strftime('%Y-%m-%d %H:%M')
    if runs.several:
        listed = ",".join(map(str, runs.seeds))
        folders = ", ".join(f"{p.name}/" for _, p in runs.runs)
        what = (f"seeds {', '.join(map(str, runs.seeds))} (one run each in {folders}: "
                "every numeric cell is the mean ± sd over them, sd with ddof = 1, and a number equal in every seed is "
                f"printed alone; † compares the means with the baselines; curves and figures: seed {runs.seeds[0]}'s "
                "run; the heatmaps of compare/: the means)")
        command = f"`python study.py seeds={listed}` (`make demo ARGS=seeds={listed}`)"
    else:
        what, command = f"seed {cfg.seed}", "`python study.py` (`make demo`)"
    return [f"# Study report: {cfg.experiment}", "",
            f"Profile `{cfg.profile}`, data `{cfg.data.root}`, {what}, generated {when} by {command}.", ""]


def write_report(cfg, timings: dict) -> Path:
    """checkpoint/<experiment>/report.md. With `seeds`, every table is combined from the seed folders' metrics
    files (utils/study/seeds.py) and compare/ at the top is rewritten from them; `timings`: seconds per stage, as shown."""
    base = cfg.run_dir
    base.mkdir(parents=True, exist_ok=True)
    out = base / "report.md"
    runs = SeedRuns(cfg)
    baselines = runs.baselines()
    if runs.several:
        compare_dir = base / "compare"
        compare_dir.mkdir(exist_ok=True)
        tables = collect_tables(cfg, compare_dir, baselines, matched=runs.matched_noise(), load=runs.load,
                                num_seeds=len(runs.seeds))
        (compare_dir / "tables.md").write_text(tables["markdown"])
        (compare_dir / "tables.json").write_text(json.dumps(tables["data"], indent=1))
    lines = _header(cfg, runs)
    if cfg.data.root == "data/synthetic":
        lines += ["> Synthetic Human3.6M (procedural motion, rendered frames): the numbers test the pipeline, "
                  "not the published models. See dataloader/synthetic/README.md.", ""]
    prob_row = runs.last_row(layout.prob_dir(cfg, cfg.model_prob_pose) / "metrics.csv")
    lines += summary_section(cfg, runs.load, prob_row, baselines, len(runs.seeds))
    lines += pose2d_section(cfg, base, baselines, runs)
    lines += joints2d_section(runs.json(base / "compare" / JOINTS2D_FILE))
    lines += prob_section(cfg, base, baselines, runs)
    tables = base / "compare" / "tables.md"
    if tables.is_file():
        lines += [tables.read_text(), ""]
        lines += [_image(p, base, p.stem) for p in sorted((base / "compare").glob("*.png"))] + [""]
    figures_dir = runs.first_seed(layout.figures_dir(cfg))
    figures = sorted(p for p in figures_dir.glob("*") if p.suffix in (".png", ".gif"))
    if figures:
        lines += ["## Figures", ""] + [f"- {_image(p, base, p.stem)}" for p in figures] + [""]
    if timings:
        lines += [f"## Time per stage (this machine{', summed over the seeds' if runs.several else ''})", "",
                  markdown_table(["stage", "seconds"], [[k, fmt(float(v), 0)] for k, v in timings.items()]), ""]
    out.write_text("\n".join(lines))
    return out

"""What compare.py runs and how it tabulates the results (see compare.py)."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from dataloader.h36m import ACTIONS
from dataloader.sources import PROBABILISTIC, artifact_name, display_name, matched_noise_std
from utils.engine import layout
from utils.engine.checkpoint import training_finished
from utils.artifact import ArtifactError, load_artifact
from utils.study.baselines import FOOTNOTE, MARK, accuracy_baseline, marked
from utils.engine.files import mtime as _mtime, write_csv
from utils.study.summary import ways_lines
from utils.study.tables import calibration_figure, fmt, heatmap_figure, markdown_table
from utils.study.ways import TASKS, compared_models, ways

logger = logging.getLogger(__name__)
SPLIT_NAMES = {"xsub": "X-sub", "xview": "X-view"}
# an evaluation on the first reads what an evaluation on the second reads (the artifact's means): one column
SAME_EVALUATION = {"ProbabilisticMean": PROBABILISTIC}


def action_sources(cfg) -> list[str]:
    """Rows of the action table: `compare.action_sources`, or `compare.sources` when empty."""
    return list(cfg.compare.action_sources or cfg.compare.sources)


def eval_sources(sources: list[str]) -> list[str]:
    """The columns of a train × eval table over `sources`: every source but one whose evaluation would repeat
    another column's (ProbabilisticMean beside Probabilistic: both evaluate on the artifact's means)."""
    return [s for s in sources if SAME_EVALUATION.get(s) not in sources]


def available_sources(cfg) -> tuple[list[str], list[tuple[str, str]]]:
    """Sources of `compare.sources` and `compare.action_sources` whose 2D exists (GroundTruth always), and the
    missing ones with the command that creates their artifact."""
    ok, missing = [], []
    for s in dict.fromkeys(list(cfg.compare.sources) + action_sources(cfg)):
        name = artifact_name(s)
        if name is None or (layout.prediction_dir(cfg, name) / "meta.json").is_file():
            ok.append(s)
        else:
            missing.append((s, layout.prediction_command(name)))
    return ok, missing


def matched_noise(cfg) -> dict | None:
    """The noise level matched to the Probabilistic artifact (`compare.matched_noise`): its mean marginal σ over
    the training subjects and cameras (:func:`dataloader.sources.matched_noise_std`), in normalised units rounded
    to 3 significant digits (the run's tag) and in px; None when switched off or the artifact has no covariance."""
    if not cfg.compare.matched_noise:
        return None
    path = layout.prediction_dir(cfg, PROBABILISTIC)
    if not (path / "meta.json").is_file():
        return None
    try:
        art = load_artifact(path, f"create it with `{layout.prediction_command(PROBABILISTIC)}`")
        std, sigma_px = matched_noise_std(art, cfg.data.train_subjects, cfg.data.cameras)
    except ArtifactError as err:
        logger.warning("no matched noise level: %s", err)
        return None
    return {"noise_std": float(f"{std:.3g}"), "noise_std_exact": std, "sigma_px": sigma_px,
            "subjects": list(cfg.data.train_subjects), "cameras": list(cfg.data.cameras)}


def noise_levels(cfg, matched: dict | None) -> list[float]:
    """The noise baseline's levels: `compare.noise_stds`, then the matched one when it is not among them."""
    levels = [float(n) for n in cfg.compare.noise_stds]
    return levels + ([matched["noise_std"]] if matched and matched["noise_std"] not in levels else [])


def prediction_meta(cfg, source: str) -> Path | None:
    """The meta.json of the artifact a downstream `source` reads (None for the ground truth)."""
    name = artifact_name(source)
    return None if name is None else layout.prediction_dir(cfg, name) / "meta.json"


def _input_time(cfg, source: str) -> float:
    meta = prediction_meta(cfg, source)
    return 0.0 if meta is None else _mtime(meta)


def trained_checkpoint(cfg, model: str, source: str, noise: float, input: str = "xy") -> Path:
    """What main.py writes last for one row (SkateFormer trains each of `action.splits` in turn)."""
    run = layout.downstream_dir(cfg, model, layout.source_tag(source, noise, input))
    return run / (cfg.action.splits[-1] if model == "SkateFormer" else "") / "last.pt"


def split_names(splits) -> str:
    """'X-sub / X-view': the action protocols of a table, in `action.splits` order."""
    return " / ".join(SPLIT_NAMES[sp] for sp in splits)


def _top1(metrics: dict | None, split: str) -> float:
    """Top-1 % of one protocol from a SkateFormer metrics.json (NaN when absent: not evaluated on that split)."""
    return metrics[split]["top1"] * 100 if metrics and split in metrics else np.nan


def _fresh(output: Path, *inputs: float) -> bool:
    return output.exists() and all(_mtime(output) >= t for t in inputs)


def train_runs(cfg, matched: dict | None = None, available: list[str] | None = None):
    """The rows of the tables: [(model, training source, noise level, input channels, evaluation sources)], over
    the sources in `available` (None: every configured source), then the ways of using the Probabilistic source
    (utils/study/ways.py) that are not rows already. `matched`: :func:`matched_noise` (its level joins the noise rows)."""
    lift = [s for s in cfg.compare.sources if available is None or s in available]
    act = [s for s in action_sources(cfg) if available is None or s in available]
    runs = [("GraphMLP", s, 0.0, "xy", eval_sources(lift)) for s in lift]
    runs += [("GraphMLP", "GroundTruth", n, "xy", eval_sources(lift)) for n in noise_levels(cfg, matched)]
    runs += [("SkateFormer", s, 0.0, "xy", eval_sources(act)) for s in act]
    if available is None or PROBABILISTIC in available:  # each way on every column
        for model in compared_models(cfg):
            columns = eval_sources(lift if model == "GraphMLP" else act)
            runs += [(model, w.source, 0.0, w.input, columns) for w in ways(cfg)
                     if (model, w.source, 0.0, w.input, columns) not in runs]
    elif compared_models(cfg):
        logger.warning("compare.uncertainty_comparison needs the Probabilistic 2D: its runs are skipped")
    return runs


def run_args(model: str, source: str, noise: float, input: str) -> list[str]:
    """The overrides that make main.py / get3Dprediction.py train or evaluate one row."""
    return [f"model_3D_prediction={model}", f"model_2D_prediction={source}", f"noise_std={noise:g}"] + \
        ([f"{TASKS[model]}.input={input}"] if input != "xy" else [])


def planned_runs(cfg, force: bool = False, matched: dict | None = None, only: tuple | None = None,
                 train: bool = True):
    """(commands [(script, args)], missing sources) to train and evaluate every cell that is stale.

    `matched`: :func:`matched_noise` (its level joins the noise baseline's); `only`: (model, source, noise, input) of the
    one row planned; `train`: False plans the evaluations alone (compare.py --evaluate-only)."""
    ok, missing = available_sources(cfg)
    commands = []
    for model, source, noise, input, columns in train_runs(cfg, matched, ok):
        if only is not None and (model, source, noise, input) != only:
            continue
        ckpt = trained_checkpoint(cfg, model, source, noise, input)
        args = run_args(model, source, noise, input)
        if train and (force or not _fresh(ckpt, _input_time(cfg, source)) or not training_finished(ckpt)):
            commands.append(("main.py", args))
        for eval_source in columns:
            out = layout.eval_dir(cfg, model, layout.source_tag(source, noise, input), eval_source) / "metrics.json"
            stale = force or not _fresh(out, _input_time(cfg, eval_source)) or _mtime(out) < _mtime(ckpt) \
                or ("main.py", args) in commands
            if stale:
                commands.append(("get3Dprediction.py", args + [f"model_2D_dataset={eval_source}"]))
    return commands, missing


_EMPTY = (np.nan, np.nan)  # the (P1, P2) of a cell without an evaluation


def _load(cfg, model, source, noise, eval_source, input: str = "xy") -> dict | None:
    path = layout.eval_dir(cfg, model, layout.source_tag(source, noise, input), eval_source) / "metrics.json"
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


def sources_note(sources: list[str], columns: list[str]) -> str:
    """What the derived sources and the Probabilistic column of a table over `sources` mean."""
    notes = []
    if PROBABILISTIC in columns:
        notes.append(f"evaluated on {PROBABILISTIC}: its means (the samples are in the Monte-Carlo table)"
                     + ("; an evaluation on ProbabilisticMean reads the same means, so this column is also the "
                        "ProbabilisticMean column" if "ProbabilisticMean" in sources else ""))
    if PROBABILISTIC in sources:
        notes.append(f"trained on {PROBABILISTIC}: a fresh draw of N(μ, Σ) every time a window is read")
    if "ProbabilisticMean" in sources:
        notes.append("ProbabilisticMean: the same artifact's means, never sampled")
    if "GroundTruthCov" in sources:
        notes.append(f"{display_name('GroundTruthCov')}: the ground truth + N(0, Σ) with the Probabilistic Σ of the "
                     "same frame (fresh draws in training, one fixed draw per frame in evaluation)")
    return ("Sources: " + "; ".join(notes) + ".") if notes else ""


def sample_note(key: str, mode: str, rho: float, sources: list[str]) -> str:
    """How the covariance draws of the training sources in `sources` lie along a window (`key` = its section)."""
    if not {PROBABILISTIC, "GroundTruthCov"} & set(sources):
        return ""
    what = {"frame": "independent per frame", "window": "one standard-normal draw per window",
            "ar1": f"AR(1) across frames, ρ = {rho:g}"}[mode]
    return f" Covariance draws along a window: `{key}.sample_mode` = {mode} ({what})."


def _names(sources: list[str]) -> list[str]:
    return [display_name(s) for s in sources]


def ways_section(cfg, load, model: str, columns: list[str], baselines: dict, num_seeds: int) -> tuple[list[str], dict]:
    """The table of the ways of using the Probabilistic source (utils/study/ways.py) for `model`, each evaluated on
    every source of `columns`, with its trivial baseline and the sentence saying which way wins; (markdown, data)."""
    lifting = model == "GraphMLP"
    rows, data = [], {"eval_sources": columns, "ways": []}
    lift_base = baselines.get("lifting", {})
    act_base = baselines.get("action", {})
    splits = list(cfg.action.splits)
    for way in ways(cfg):
        cells, numbers = [], []
        for e in columns:
            m = load(cfg, model, way.source, 0.0, e, input=way.input)
            if lifting:
                values = (m["mpjpe_mm"], m["p_mpjpe_mm"]) if m else _EMPTY
                bases = (lift_base.get("mpjpe_mm"), lift_base.get("p_mpjpe_mm"))
                cells.append(" / ".join(_cell(v, b, "error") for v, b in zip(values, bases)) if m else "–")
            else:
                values = tuple(_top1(m, sp) for sp in splits)
                bases = tuple(100 * accuracy_baseline(act_base[sp]) if sp in act_base else None for sp in splits)
                cells.append(" / ".join(_cell(v, b, "accuracy") for v, b in zip(values, bases)) if m else "–")
            numbers.append([float(v) for v in values])
        rows.append([way.name, display_name(way.source), way.input] + cells)
        data["ways"].append({"way": way.name, "source": way.source, "input": way.input, "values": numbers})
    if lifting and lift_base:
        rows.append([LIFTING_BASELINE_ROW, "–", "–"] + [f"{fmt(lift_base['mpjpe_mm'])} / "
                                                       f"{fmt(lift_base['p_mpjpe_mm'])}"] * len(columns))
    if not lifting and act_base:
        rows.append([ACTION_BASELINE_ROW, "–", "–"] + [" / ".join(fmt(100 * act_base[sp]["majority_top1"])
                                                                  for sp in splits if sp in act_base)] * len(columns))
    title = ("2D→3D lifting (GraphMLP): MPJPE / P-MPJPE in mm" if lifting
             else f"action recognition (SkateFormer): top-1 % {split_names(splits)}")
    verdict = ways_lines(cfg, load, baselines, model, num_seeds)[0]
    md = [f"## Ways of using the {PROBABILISTIC} source, {title}", "",
          f"Rows: how the model was trained on the {PROBABILISTIC} artifact (`compare.uncertainty_comparison`, "
          "utils/study/ways.py): on its means or on fresh samples of N(μ, Σ), with the coordinates alone (xy) or "
          f"with each joint's 2×2 marginal as input channels (`{TASKS[model]}.input`); columns: the 2D source it is "
          "evaluated on, with its Σ for Probabilistic and GroundTruth+Σ, and the constant 'no uncertainty' channels "
          f"for the sources without covariance. Which way wins: {verdict}.", "",
          *_with_footnote(markdown_table(["way", "trained on", "input"] + _names(columns), rows))]
    data["verdict"] = verdict
    return md, data


def collect_tables(cfg, out_dir: Path, baselines: dict | None = None, matched: dict | None | str = "auto",
                   load=None, num_seeds: int = 1) -> dict:
    """Read every evaluation and write CSV + figures; returns markdown and the raw numbers.

    `baselines` (default: compare/baselines.json) marks every cell that does not beat its trivial baseline by 2×.
    `matched` (default: :func:`matched_noise` of `cfg`) is the noise level matched to the Probabilistic σ.
    `load` (default: the run's own metrics.json) reads one evaluation, (cfg, model, source, noise, eval source,
    input="xy") → dict or None; a study over seeds passes ``utils.study.seeds.SeedRuns.load``, whose numbers print as
    mean ± sd, and `num_seeds` (the spread the ways' verdict compares a difference with).
    """
    load = load or _load
    sources = list(cfg.compare.sources)
    columns = eval_sources(sources)
    matched = matched_noise(cfg) if matched == "auto" else matched
    baselines = read_baselines(out_dir) if baselines is None else baselines
    lift_base = baselines.get("lifting", {})
    base_p1, base_p2 = lift_base.get("mpjpe_mm"), lift_base.get("p_mpjpe_mm")
    md, data = [], {"baselines": baselines}

    # 1. lifting: train source × eval source
    p1 = np.full((len(sources), len(columns)), np.nan)
    p2 = np.full_like(p1, np.nan)
    shown = {}  # (i, j) → the cell's numbers as loaded (the arrays keep floats, a load over seeds gives mean ± sd)
    for i, s in enumerate(sources):
        for j, e in enumerate(columns):
            m = load(cfg, "GraphMLP", s, 0.0, e)
            if m:
                p1[i, j], p2[i, j] = shown[i, j] = m["mpjpe_mm"], m["p_mpjpe_mm"]
    rows = [[display_name(s)] + [" / ".join(_cell(v, b, "error")
                                            for v, b in zip(shown.get((i, j), _EMPTY), (base_p1, base_p2)))
                                 for j in range(len(columns))] for i, s in enumerate(sources)]
    if lift_base:
        rows.append([LIFTING_BASELINE_ROW] + [f"{fmt(base_p1)} / {fmt(base_p2)}"] * len(columns))
    note = sources_note(sources, columns)
    md += ["## 2D→3D lifting (GraphMLP): MPJPE / P-MPJPE in mm, action-wise average, test subjects",
           "", "Rows: 2D source the lifter was trained on; columns: 2D source it is evaluated on. Baseline: the mean "
           "training 3D pose predicted for every test frame." + (f" {note}" if note else "")
           + sample_note("lifting", cfg.lifting.sample_mode, cfg.lifting.sample_rho, sources), "",
           *_with_footnote(markdown_table(["trained on \\ evaluated on"] + _names(columns), rows))]
    write_csv(out_dir / "lifting_p1_mm.csv", ["trained_on"] + columns, [[s, *p1[i]] for i, s in enumerate(sources)])
    write_csv(out_dir / "lifting_p2_mm.csv", ["trained_on"] + columns, [[s, *p2[i]] for i, s in enumerate(sources)])
    if np.isfinite(p1).any():
        heatmap_figure(out_dir / "lifting_p1.png", p1, _names(sources), _names(columns), "GraphMLP MPJPE (P1)", "mm")
        heatmap_figure(out_dir / "lifting_p2.png", p2, _names(sources), _names(columns), "GraphMLP P-MPJPE (P2)", "mm")
    data["lifting"] = {"sources": sources, "eval_sources": columns, "p1_mm": p1.tolist(), "p2_mm": p2.tolist(),
                       "sample_mode": cfg.lifting.sample_mode, "sample_rho": cfg.lifting.sample_rho}
    if "GraphMLP" in compared_models(cfg):
        part, data["ways_lifting"] = ways_section(cfg, load, "GraphMLP", columns, baselines, num_seeds)
        md += part

    # 2. noise baseline: GroundTruth + noise, evaluated on every source
    noises = [0.0] + noise_levels(cfg, matched)
    noise_rows, noise_p1 = [], np.full((len(noises), len(columns)), np.nan)
    noise_p2 = np.full_like(noise_p1, np.nan)
    for i, n in enumerate(noises):
        cells = []
        for j, e in enumerate(columns):
            m = load(cfg, "GraphMLP", "GroundTruth", n, e)
            if m:
                noise_p1[i, j], noise_p2[i, j] = m["mpjpe_mm"], m["p_mpjpe_mm"]
            cells.append(f"{_cell(m['mpjpe_mm'], base_p1, 'error')} / {_cell(m['p_mpjpe_mm'], base_p2, 'error')}"
                         if m else "–")
        label = f"{n:g}"
        if matched and n == matched["noise_std"]:
            label += f" (matched: mean Probabilistic σ, {fmt(matched['sigma_px'])} px)"
        noise_rows.append([label] + cells)
    if lift_base:
        noise_rows.append([LIFTING_BASELINE_ROW] + [f"{fmt(base_p1)} / {fmt(base_p2)}"] * len(columns))
    matched_note = (f" The matched level is the Probabilistic artifact's mean marginal σ (mean of √Σᵢᵢ over the "
                    f"training subjects' frames, cameras {list(matched['cameras'])} and the 34 coordinates, × 2 / image "
                    f"width): {matched['noise_std_exact']:.4g} normalised, {fmt(matched['sigma_px'])} px "
                    f"(`compare.matched_noise`)." if matched else "")
    md += ["## Noise baseline: GraphMLP trained on GroundTruth + N(0, s²) (normalised units), P1 / P2 mm", "",
           "Normalised units: a pixel offset × 2 / image width (1 px = 0.002 on a 1000 px wide camera)." + matched_note,
           "", *_with_footnote(markdown_table(["s \\ evaluated on"] + _names(columns), noise_rows))]
    write_csv(out_dir / "noise_p1_mm.csv", ["noise_std"] + columns, [[n, *noise_p1[i]] for i, n in enumerate(noises)])
    write_csv(out_dir / "noise_p2_mm.csv", ["noise_std"] + columns, [[n, *noise_p2[i]] for i, n in enumerate(noises)])
    data["noise"] = {"noise_stds": noises, "eval_sources": columns, "p1_mm": noise_p1.tolist(),
                     "p2_mm": noise_p2.tolist(), "matched": matched}

    # 3. Monte-Carlo samples of the probabilistic source through each lifter
    mc_rows, mc_data, curves = [], {}, {}
    for s in sources:
        m = load(cfg, "GraphMLP", s, 0.0, PROBABILISTIC)
        if m and "monte_carlo" in m:
            mc = m["monte_carlo"]
            cal = mc.get("calibration")
            mc_rows.append([display_name(s), str(mc["num_samples"]), fmt(mc["mean_spread_mm"]),
                            fmt(mc["spread_error_correlation"], 3), _cell(m["mpjpe_mm"], base_p1, "error"),
                            _cell(mc["mpjpe_of_sample_mean_mm"], base_p1, "error"),
                            fmt(cal["ece"], 3) if cal else "–", fmt(cal["ece_calibrated"], 3) if cal else "–"])
            mc_data[s] = {"num_samples": mc["num_samples"], "mean_spread_mm": mc["mean_spread_mm"],
                          "spread_error_correlation": mc["spread_error_correlation"], "p1_of_mean_2d_mm": m["mpjpe_mm"],
                          "p1_of_sample_mean_mm": mc["mpjpe_of_sample_mean_mm"], "calibration": cal}
            if cal:
                curves[display_name(s)] = cal
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
    splits = list(cfg.action.splits)
    acc_base = {sp: 100 * accuracy_baseline(act_base[sp]) if sp in act_base else None for sp in splits}
    act_rows = action_sources(cfg)
    act_columns = eval_sources(act_rows)
    acc = {sp: np.full((len(act_rows), len(act_columns)), np.nan) for sp in splits}
    shown = {}  # (split, i, j) → the cell as loaded
    for i, s in enumerate(act_rows):
        for j, e in enumerate(act_columns):
            m = load(cfg, "SkateFormer", s, 0.0, e)
            if m:
                for sp in splits:
                    acc[sp][i, j] = shown[sp, i, j] = _top1(m, sp)
    rows = [[display_name(s)] + [" / ".join(_cell(shown.get((sp, i, j), np.nan), acc_base[sp], "accuracy")
                                            for sp in splits)
                                 for j in range(len(act_columns))] for i, s in enumerate(act_rows)]
    if act_base:
        rows.append([ACTION_BASELINE_ROW] + [" / ".join(fmt(100 * act_base[sp]["majority_top1"])
                                                        for sp in splits if sp in act_base)] * len(act_columns))
    chance = 100 * next(iter(act_base.values()))["chance"] if act_base else 100 / len(ACTIONS)
    note = sources_note(act_rows, act_columns)
    md += [f"## Action recognition (SkateFormer): top-1 % {split_names(splits)} (chance {fmt(chance)} %)", "",
           "Baselines: chance, and the majority class of the training clips scored on the test clips; a cell must "
           "reach twice the stronger of the two." + (f" {note}" if note else "")
           + sample_note("action", cfg.action.sample_mode, cfg.action.sample_rho, act_rows), "",
           *_with_footnote(markdown_table(["trained on \\ evaluated on"] + _names(act_columns), rows))]
    for sp in splits:
        write_csv(out_dir / f"action_{sp}_top1.csv", ["trained_on"] + act_columns,
                  [[s, *acc[sp][i]] for i, s in enumerate(act_rows)])
        if np.isfinite(acc[sp]).any():
            heatmap_figure(out_dir / f"action_{sp}.png", acc[sp], _names(act_rows), _names(act_columns),
                           f"SkateFormer top-1 ({SPLIT_NAMES[sp]})", "%", lower_is_better=False)
    data["action"] = {sp: acc[sp].tolist() for sp in splits}
    data["action_sources"] = {"sources": act_rows, "eval_sources": act_columns,
                              "sample_mode": cfg.action.sample_mode, "sample_rho": cfg.action.sample_rho}
    if "SkateFormer" in compared_models(cfg):
        part, data["ways_action"] = ways_section(cfg, load, "SkateFormer", act_columns, baselines, num_seeds)
        md += part
    md += baselines_markdown(baselines)
    return {"markdown": "\n".join(md), "data": data}

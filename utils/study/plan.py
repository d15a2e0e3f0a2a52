"""The stages of `make demo` (study.py): what each runs, what it writes, and whether it is stale.

A stage is stale when an output is missing, older than an input, or was made with another
configuration (the config.yml / meta.json saved beside it differs from what the stage would use now).
With `seeds` (utils/study/seeds.py) the data stages run once and every other stage once per seed, in the
seed's run folder, with the seed's overrides (`seed=k experiment=<experiment>/seed<k>`).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from config import MODELS_2D, load_config, to_dict
from dataloader.sources import artifact_name
from dataloader.synthetic import generate as synthetic_generate
from models.registry import pose2d_init_file
from utils.engine import layout
from utils.engine.checkpoint import training_finished
from utils.engine.files import mtime as _mtime
from utils.study.comparison import eval_sources, prediction_meta, run_args, train_runs, trained_checkpoint
from utils.study.seeds import seed_overrides

# Keys that cannot change what a 2D stage writes (downstream, comparison and figure settings).
IGNORED_KEYS = ("resume", "seeds", "launcher", "local_jobs", "slurm", "noise_std", "model_3D_prediction",
                "model_2D_dataset", "lifting", "action", "evaluate", "compare", "vis")


# ... and the probabilistic estimator's settings, which cannot change what the deterministic 2D stages write.
DETERMINISTIC_2D_IGNORED = ("prob", "model_prob_pose")


@dataclass
class Stage:
    name: str
    commands: list[tuple[str, list[str]]]   # (script.py or module, arguments)
    outputs: list[Path]
    inputs: list[Path] = field(default_factory=list)
    saved_config: Path | None = None         # config.yml / meta.json written by the stage
    stage_overrides: list[str] = field(default_factory=list)
    estimate_s: float = 60.0
    always: bool = False
    up_to_date: Callable[[], bool] | None = None  # extra freshness test (the synthetic root's generator settings)
    ignored: tuple[str, ...] = ()            # config sections that cannot change this stage's output, besides IGNORED_KEYS
    stale: bool = True
    overrides: list[str] = field(default_factory=list)  # the run's overrides: every script gets them (the seed's)
    run_dir: Path | None = None              # the run folder whose timings.json records the stage's seconds
    seed: int | None = None                  # the seed of a `seeds` study's stage (None: run once)
    needs: list[str] = field(default_factory=list)  # the stages it waits for: names in run_stages, labels after plan()
    kind: str = "cpu"                        # its resources (config.JOB_KINDS: slurm.<kind>); train_* run under torchrun
    timing: str = ""                         # the timings.json entry its seconds add to ("" = its name)

    @property
    def label(self) -> str:
        return self.name if self.seed is None else f"{self.name} (seed {self.seed})"


def _clean(d: dict, ignored: tuple[str, ...] = ()) -> dict:
    return {k: v for k, v in d.items() if k not in IGNORED_KEYS and k not in ignored}


def _config_changed(stage: Stage, overrides: list[str], config_file) -> bool:
    if stage.saved_config is None or not stage.saved_config.is_file():
        return stage.saved_config is not None
    text = stage.saved_config.read_text()
    saved = json.loads(text).get("config", {}) if stage.saved_config.suffix == ".json" else yaml.safe_load(text)
    current = to_dict(load_config(overrides + stage.stage_overrides, config_file))
    return _clean(saved, stage.ignored) != _clean(current, stage.ignored)


def plan(cfg, overrides: list[str], config_file=None, force: bool = False) -> list[Stage]:
    """Every stage of the study: the data stages once, then the stages of each seed's run (one run without `seeds`)."""
    root = cfg.data_root
    synthetic_marker = root / "synthetic.json"
    stages: list[Stage] = []
    if cfg.data.root == "data/synthetic":
        stages.append(Stage("data", [("dataloader.synthetic.generate", ["--out", str(root), "--profile", "quick"])],
                            outputs=[synthetic_marker], estimate_s=120,
                            up_to_date=lambda: synthetic_generate.is_current(root, "quick")))
    stages.append(Stage("inspect", [("dataloader", ["inspect", "--root", str(root), "--frame-template",
                                                     cfg.data.frame_template])], outputs=[], always=True, estimate_s=10,
                        needs=[s.name for s in stages]))
    once = {s.name for s in stages}
    for stage in stages:
        stage.overrides, stage.run_dir = list(overrides), cfg.run_dir
    data_inputs = [synthetic_marker] if synthetic_marker.exists() or stages[0].name == "data" else []
    for seed, run_overrides in seed_overrides(cfg, overrides):
        run_cfg = load_config(run_overrides, config_file) if cfg.seeds else cfg
        for stage in run_stages(run_cfg, data_inputs, force):
            stage.overrides, stage.run_dir = run_overrides, run_cfg.run_dir
            stage.seed = seed if cfg.seeds else None
            stage.needs = [n if n in once else Stage(n, [], [], seed=stage.seed).label for n in stage.needs]
            stages.append(stage)
    produced: set[Path] = set()
    for stage in stages:  # a stage is also stale when an input is produced by a stale stage
        stage.stale = force or is_stale(stage, stage.overrides, config_file) or any(p in produced for p in stage.inputs)
        if stage.stale:
            produced.update(stage.outputs)
    return stages


def predicting_stage(source: str) -> str:
    """The stage that writes the 2D a downstream `source` reads ('inspect' for the ground truth)."""
    name = artifact_name(source)
    return "inspect" if name is None else f"predict 2D {name}"


def run_stages(cfg, data_inputs: list[Path], force: bool = False) -> list[Stage]:
    """The stages of one run folder (one seed): 2D training and prediction, TIC-TAC, a downstream training and
    an evaluation per training source of the comparison, the comparison's tables, figures."""
    stages: list[Stage] = []
    for model in MODELS_2D:
        run = layout.pose2d_dir(cfg, model)
        args = [f"model_2D_prediction={model}"]
        init = pose2d_init_file(cfg, model)
        stages.append(Stage(f"train 2D {model}", [("train2D.py", args)], outputs=[run / "last.pt"],
                            inputs=data_inputs + ([init] if init else []), saved_config=run / "config.yml",
                            stage_overrides=args, estimate_s=150, ignored=DETERMINISTIC_2D_IGNORED,
                            up_to_date=_finished(run / "last.pt"), needs=["inspect"], kind="train_2d"))
        pred = layout.prediction_dir(cfg, model)
        stages.append(Stage(f"predict 2D {model}", [("get2Dpredictions.py", args)], outputs=[pred / "meta.json"],
                            inputs=[layout.pose2d_checkpoint(cfg, model)], saved_config=pred / "meta.json",
                            stage_overrides=args, estimate_s=60, ignored=DETERMINISTIC_2D_IGNORED,
                            needs=[f"train 2D {model}"], kind="predict"))
    prob, prob_init = layout.prob_dir(cfg, cfg.model_prob_pose), layout.prob_init_checkpoint(cfg)
    prob_args, prob_needs = [], ["inspect"] + ([f"train 2D {cfg.model_prob_pose}"] if cfg.prob.init == "pose2d" else [])
    if cfg.prob.pretrain:  # pre-train on COCO/MPII first; the Human3.6M run fine-tunes from it
        pretrain = pretrain_stage(cfg, data_inputs)
        stages.append(pretrain)
        prob_init = pretrain.outputs[0]
        prob_args, prob_needs = [f"prob.init={prob_init}"], ["inspect", pretrain.name]
    stages.append(Stage(f"train TIC-TAC {cfg.model_prob_pose}", [("train2D_prob_pose.py", prob_args)],
                        outputs=[prob / "last.pt"], saved_config=prob / "config.yml", estimate_s=240,
                        up_to_date=_finished(prob / "last.pt"), stage_overrides=prob_args,
                        inputs=data_inputs + ([prob_init] if prob_init else []), needs=prob_needs, kind="train_prob"))
    pred = layout.prediction_dir(cfg, "Probabilistic")
    stages.append(Stage("predict 2D Probabilistic", [("get2Dpredictions_prob_pose.py", [])], outputs=[pred / "meta.json"],
                        inputs=[prob / "last.pt"], saved_config=pred / "meta.json", estimate_s=90,
                        needs=[f"train TIC-TAC {cfg.model_prob_pose}"], kind="predict"))
    downstream = downstream_stages(cfg, force)
    compare_dir = cfg.run_dir / "compare"
    stages += downstream
    stages.append(Stage(COMPARISON, [("compare.py", ["--force"] if force else [])],
                        outputs=[compare_dir / "tables.md"], always=True, estimate_s=60,
                        needs=[s.name for s in stages if s.kind in ("predict", "train_downstream", "evaluate")]))
    figures = layout.figures_dir(cfg)
    # the 2D estimators' figures need only their predictions: drawn while the slow probabilistic stages run
    stages.append(Stage("figures 2D", list(FIGURE_COMMANDS_2D), outputs=[figures / ".done_2d"],
                        inputs=[layout.prediction_dir(cfg, m) / "meta.json" for m in MODELS_2D], estimate_s=15,
                        needs=[f"predict 2D {m}" for m in MODELS_2D]))
    # the other figures start once the evaluations they draw exist, beside the last downstream runs, not after the tables
    planned = {s.name: s for s in stages}
    for name, commands, marker, wanted in FIGURE_STAGES:
        drawn = [planned[n] for n in wanted if n in planned]
        if len(drawn) < len(wanted):  # a source or model left out of the comparison: its error comes after the tables
            drawn = [planned[COMPARISON]]
        stages.append(Stage(name, list(commands), outputs=[figures / marker], timing="figures", estimate_s=20,
                            inputs=[p for s in drawn for p in s.outputs], needs=[s.name for s in drawn]))
    return stages


def pretrain_stage(cfg, data_inputs: list[Path]) -> Stage:
    """`prob.pretrain`: the probabilistic estimator trained on COCO or MPII (data.dataset) for
    `prob.pretrain_epochs`, into 2d/Probabilistic_<backbone>_<dataset>/; it starts from `prob.init` when that
    names a file, from `pose2d.init`'s file when prob.init is `pose2d` (this run's Human3.6M model comes later),
    else at random."""
    init = cfg.prob.init if cfg.prob.init != "pose2d" else cfg.pose2d.init
    args = [f"data.dataset={cfg.prob.pretrain}", f"prob.epochs={cfg.prob.pretrain_epochs}", f"prob.init={init}"]
    run = layout.prob_dir(replace(cfg, data=replace(cfg.data, dataset=cfg.prob.pretrain)), cfg.model_prob_pose)
    return Stage(f"pretrain TIC-TAC {cfg.model_prob_pose} on {cfg.prob.pretrain}", [("train2D_prob_pose.py", args)],
                 outputs=[run / "last.pt"], saved_config=run / "config.yml", stage_overrides=args, estimate_s=600,
                 up_to_date=_finished(run / "last.pt"), inputs=list(data_inputs), needs=["inspect"], kind="train_prob")


def _finished(last: Path) -> Callable[[], bool]:
    """A training stage is done only when its run trained every planned epoch (a study killed
    part-way leaves a last.pt of the last finished epoch, with the same config.yml)."""
    return lambda: training_finished(last)


COMPARISON = "downstream + comparison"  # compare.py: the baselines and the tables (and any run still missing)


def downstream_stages(cfg, force: bool = False) -> list[Stage]:
    """A training stage (main.py) and an evaluation stage (compare.py --evaluate-only: get3Dprediction.py on every
    column) per row of the comparison's tables (:func:`utils.study.comparison.train_runs`); the row of the noise
    level matched to the Probabilistic artifact is one stage (compare.py --matched-only: its level is known only once
    the artifact exists, so the stage always starts and skips what is up to date, as compare.py does)."""
    stages = []
    for model, source, noise, input, columns in train_runs(cfg, matched=None):
        tag = layout.source_tag(source, noise, input)
        args = run_args(model, source, noise, input)
        train = f"train {model} on {tag}"
        ckpt = trained_checkpoint(cfg, model, source, noise, input)
        source_input = [p for p in [prediction_meta(cfg, source)] if p is not None]
        stages.append(Stage(train, [("main.py", args)], outputs=[ckpt], inputs=source_input,
                            stage_overrides=args, estimate_s=30, needs=[predicting_stage(source)],
                            kind="train_downstream", timing=COMPARISON, up_to_date=_finished(ckpt)))
        outputs = [layout.eval_dir(cfg, model, tag, col) / "metrics.json" for col in columns]
        inputs = [ckpt] + [p for p in (prediction_meta(cfg, col) for col in columns) if p is not None]
        stages.append(Stage(f"evaluate {model} on {tag}", [("compare.py", ["--evaluate-only", *args]
                                                             + (["--force"] if force else []))],
                            outputs=outputs, inputs=inputs, stage_overrides=args, estimate_s=20,
                            needs=list(dict.fromkeys([train] + [predicting_stage(c) for c in columns])),
                            kind="evaluate", timing=COMPARISON))
    if cfg.compare.matched_noise:
        columns = eval_sources(list(cfg.compare.sources))
        stages.append(Stage(MATCHED, [("compare.py", ["--matched-only"] + (["--force"] if force else []))], outputs=[],
                            always=True, estimate_s=90, kind="train_downstream", timing=COMPARISON,
                            needs=list(dict.fromkeys([predicting_stage("Probabilistic")]
                                                     + [predicting_stage(c) for c in columns]))))
    return stages


MATCHED = "train + evaluate GraphMLP on GroundTruth + matched noise"


def stage_graph(cfg, overrides: list[str] | None = None, config_file=None) -> dict[str, list[str]]:
    """Every stage of the study (its label) → the stages it waits for, in an order where each follows its needs."""
    return {s.label: list(s.needs) for s in plan(cfg, list(overrides or []), config_file)}


def is_stale(stage: Stage, overrides: list[str], config_file=None) -> bool:
    """Missing or outdated outputs, or outputs made with another configuration."""
    if stage.always or not all(p.exists() for p in stage.outputs):
        return True
    if stage.up_to_date is not None and not stage.up_to_date():
        return True
    if any(_mtime(o) < _mtime(i) for o in stage.outputs for i in stage.inputs):
        return True
    return _config_changed(stage, overrides, config_file)


PROBABILISTIC = ["model_2D_prediction=Probabilistic", "model_2D_dataset=Probabilistic"]
FIGURE_COMMANDS_2D = tuple(("visualisation2D.py", [f"vis.source={m}"]) for m in MODELS_2D)
FIGURE_STAGES = (  # (stage, commands, its marker under figures/, the stages whose outputs it draws)
    ("figures", (("visualisation2Dprobpose.py", []),
                 ("visualisation3D.py", ["model_2D_prediction=GroundTruth", "model_2D_dataset=GroundTruth"])),
     ".done", ("predict 2D Probabilistic", "evaluate GraphMLP on GroundTruth")),
    ("figures Probabilistic 3D", (("visualisation3D.py", PROBABILISTIC), ("visualisationGIF.py", PROBABILISTIC)),
     ".done_probabilistic_3d", ("evaluate GraphMLP on Probabilistic",)),
)

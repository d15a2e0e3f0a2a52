"""One place that resolves the configuration of every stage.

Order of precedence (later wins):
1. the defaults declared in the dataclasses below,
2. ``configuration.yml`` (or ``--config FILE``): the study's switches and settings,
3. the profile file ``config/<profile>.yml`` (``quick`` for a CPU laptop run on the synthetic default,
   ``paper`` for the cluster recipes of the original papers, ``test`` for the test suite),
4. ``key=value`` / ``section.key=value`` overrides from the command line.

Validation is strict: an unknown key names the closest valid one, a bad choice lists the valid
choices, a wrong type names the key and the expected type. The result is a frozen dataclass.
"""
from __future__ import annotations

import dataclasses
import difflib
import logging
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from utils.codecs.uncertainty import INPUT_MODES  # downstream input channels per joint: xy | xy+conf | xy+cov

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent
DEFAULT_CONFIG_FILE = REPO_ROOT / "configuration.yml"
PROFILE_DIR = REPO_ROOT / "config"

SOURCES_2D = ("GroundTruth", "Hourglass", "ViTPose", "Probabilistic")
# Downstream-only sources derived from the Probabilistic artifact (dataloader.sources): its means without sampling,
# and the ground truth plus noise drawn from its covariance (displayed "GroundTruth+Σ")
DERIVED_SOURCES_2D = ("ProbabilisticMean", "GroundTruthCov")
DOWNSTREAM_SOURCES_2D = SOURCES_2D + DERIVED_SOURCES_2D
SAMPLE_MODES = ("frame", "window", "ar1")
SPLITS = ("xsub", "xview")  # action recognition protocols: cross-subject, cross-view (dataloader/action_dataset.py)
MODELS_2D = ("Hourglass", "ViTPose")
MODELS_3D = ("GraphMLP", "SkateFormer")
PROB_METHODS = ("MSE", "Diagonal", "BetaNLL", "NLL", "Faithful", "TIC")
DEPRECATED_ALIASES = {"GroundThruth": "GroundTruth"}


class ConfigError(ValueError):
    """A configuration problem; the message names the key and the fix."""


def choice(*options, default=None, **kwargs):
    return field(default=default if default is not None else options[0], metadata={"choices": options}, **kwargs)


def _list(*values):
    return field(default_factory=lambda: list(values))


@dataclass(frozen=True)
class DataConfig:
    root: str = "data/synthetic"                # data root in the Human3.6M layout (relative to the repo or absolute)
    frame_template: str = "{subject}/frames/{sequence}.{camera}/{frame:06d}.jpg"  # frame images under root; frame is 1-based
    train_subjects: list = _list("S1", "S5", "S6", "S7", "S8")
    test_subjects: list = _list("S9", "S11")
    actions: list = _list()                      # canonical action names; empty = all 15
    cameras: list = _list(0, 1, 2, 3)            # camera indices 0..3
    frame_stride: int = 1                        # 2D training and validation use every k-th frame (predictions cover every frame)
    num_workers: int = 2                         # DataLoader workers
    reduced_decode: bool = True                  # decode frames at ½/¼/⅛ JPEG scale when the crop keeps ≥ 1 px per input px
    box_source: str = choice("silhouette", "keypoints", "detections")  # person box of the 2D crops (train and predict)
    detections: str = ""                         # box_source=detections: npz '<S>/<sequence>/<camera id>' → (N, 4) px
    dataset: str = choice("h36m", "coco", "mpii", "lsp")  # what the 2D training stages train on (validation stays on Human3.6M)
    coco_annotations: str = "data/coco/annotations/person_keypoints_train2017.json"
    coco_images: str = "data/coco/train2017"
    mpii_annotations: str = "data/mpii/mpii_human_pose_v1_u12_1.mat"
    mpii_images: str = "data/mpii/images"
    lsp_roots: list = _list("data/lsp", "data/lspet")  # dataset=lsp: LSP / LSPET folders (joints.mat + images/), read together as TIC-TAC does


@dataclass(frozen=True)
class RuntimeConfig:
    device: str = choice("auto", "cpu", "cuda")
    amp: bool = True                             # bf16 autocast on CUDA; the CPU runs the same code in fp32
    compile: bool = False                        # torch.compile the model
    channels_last: bool = True                   # the Hourglass in channels-last memory (train2D.py, get2Dpredictions.py)


@dataclass(frozen=True)
class Pose2DConfig:
    vitpose_preset: str = "tiny_w128"            # models/vit_pose presets: tiny, tiny_w128, tiny_p8, tiny64, S, B, L, H
    hourglass_preset: str = "tiny128"            # models/stacked_hourglass presets: tiny, tiny128, 2stack, 8stack
    init: str = ""                               # starting weights: "" random | path to an official file or a model.pt of ours (utils.stages.init_weights)
    hourglass_init: str = ""                     # starting weights of the Hourglass: "" = `init` | random | path
    epochs: int = 4
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    optimizer: str = choice("adamw", "adam")
    layer_decay: float = 1.0                     # ViTPose layer-wise lr decay (paper: 0.75 for B); 1 = off
    warmup_iters: int = 0
    lr_steps: list = _list()                     # epochs at which the lr is multiplied by 0.1
    lr_schedule: str = choice("step", "cosine")  # step: ×0.1 at lr_steps (ViTPose/mmpose recipe); cosine: to 1 % by the last epoch
    hourglass_epochs: int = 0                    # epochs of the Hourglass run; 0 = `epochs`
    hourglass_lr: float = 0.0                    # peak lr of the Hourglass run; 0 = `lr`
    hourglass_batch_size: int = 0                # samples per step of the Hourglass run; 0 = `batch_size`
    hourglass_sigma: float = 0.0                 # heatmap σ of the Hourglass; 0 = `sigma`
    hourglass_weight_decay: float = 1e-4         # weight decay of the Hourglass, its own (0 = none; `weight_decay` is ViTPose's)
    hourglass_optimizer: str = choice("", "adamw", "adam")  # optimizer of the Hourglass; "" = `optimizer`
    grad_clip: float = 1.0                       # L2 max-norm; 0 = off
    sigma: float = 2.0                           # Gaussian target std in heatmap pixels
    box_margin: float = 1.25                     # crop side = margin × longer side of the person box (data.box_source)
    rotation: float = 30.0                       # max |rotation| in degrees (augmentation)
    scale: float = 0.25                          # scale jitter ±
    flip_prob: float = 0.5
    max_train_items: int = 0                     # 0 = all frames; else a fixed random subset per epoch
    max_val_items: int = 0


@dataclass(frozen=True)
class ProbConfig:
    methods: list = _list("MSE", "Diagonal", "BetaNLL", "NLL", "Faithful", "TIC")  # trained side by side
    export_method: str = choice(*PROB_METHODS, default="TIC")  # the method whose mean/covariance form the Probabilistic artifact
    parameterisation: str = choice("cholesky", "dense")  # Cholesky factor + εI (default) or TIC-TAC's dense M Mᵀ
    use_hessian: bool = False                    # TIC second-order term (off in the official code)
    visibility: bool = False                     # joint-visibility head
    z_dim: int = 64                              # TIC bottleneck width
    tic_chunk_size: int = 0                      # samples per vmapped TIC Jacobian call; 0 = the whole batch
    heatmap_peak: float = 30.0                   # target heatmap peak (TIC-TAC: 30) so the soft-argmax mean is sharp
    mse_warmup_epochs: int = 0                   # epochs of heatmap-only training first (the official code has none)
    init: str = ""                               # pose network's starting weights: "" random | pose2d (this run's own 2D model of the backbone) | path to an official file or a model.pt of ours
    pretrain: str = choice("", "coco", "mpii", "lsp")   # study.py: pre-train the estimator on this dataset first, then fine-tune from it
    pretrain_epochs: int = 150                   # epochs of that pre-training (the original study: 150 on MPII/COCO)
    epochs: int = 4
    batch_size: int = 32
    lr: float = 1e-3
    jitter: float = 1e-4                         # εI added to Σ (heatmap px²), recorded in meta.json


@dataclass(frozen=True)
class LiftingConfig:
    preset: str = "small9"                       # models/GraphMLP presets: tiny, tiny27, small9, T1, T27, T81, T243
    epochs: int = 6
    batch_size: int = 256
    lr: float = 1e-3
    lr_decay: float = 0.95                       # ×0.95 per epoch, ×0.5 every `lr_halve_every` epochs (official)
    lr_halve_every: int = 5
    flip_augmentation: bool = True
    test_flip: bool = True
    train_stride: int = 1                        # use every k-th training frame as a target
    sample_mode: str = choice(*SAMPLE_MODES)     # draws of a stochastic source along a window: per frame | one per window | AR(1)
    sample_rho: float = 0.9                      # sample_mode=ar1: lag-1 correlation of the standard-normal draws
    input: str = choice(*INPUT_MODES)            # channels per joint: xy | xy+conf (+ confidence) | xy+cov (+ log σx, log σy, ρ)
    uncertainty_dropout: float = 0.2             # xy+conf / xy+cov training: fraction of windows whose uncertainty channels read "no uncertainty"


@dataclass(frozen=True)
class ActionConfig:
    preset: str = "tiny"                         # models/SkateFormer presets: tiny, h36m, ntu
    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup_epochs: int = 2
    label_smoothing: float = 0.1
    grad_clip: float = 1.0
    precise_bn_batches: int = 0                  # BatchNorm statistics recomputed on this many training batches before each validation (0 = off)
    clip_stride: int = 8                         # frames between the starts of consecutive clips
    sample_mode: str = choice(*SAMPLE_MODES)     # as lifting.sample_mode, for the clips
    sample_rho: float = 0.9                      # sample_mode=ar1: lag-1 correlation
    input: str = choice(*INPUT_MODES)            # as lifting.input, for the clips
    uncertainty_dropout: float = 0.2             # as lifting.uncertainty_dropout, for the clips
    splits: list = _list("xsub", "xview")        # protocols trained and evaluated: xsub (cross-subject), xview (cross-view)


@dataclass(frozen=True)
class PredictConfig:
    flip_test: bool = True
    batch_size: int = 64
    subjects: list = _list()                     # empty = train + test subjects
    export_npz: bool = False                     # also write data_2d_h36m_<name>.npz (VideoPose3D layout)


@dataclass(frozen=True)
class EvaluateConfig:
    num_samples: int = 8                         # Monte-Carlo samples of a Probabilistic evaluation source
    batch_size: int = 256                        # windows / clips per step of every downstream validation and evaluation


@dataclass(frozen=True)
class CompareConfig:
    noise_stds: list = _list(0.005, 0.01, 0.02)  # noise baseline (normalised units)
    sources: list = _list("GroundTruth", "Hourglass", "ViTPose", "Probabilistic")
    action_sources: list = _list()               # sources of the action table; empty = `sources`
    matched_noise: bool = True                   # add a noise level = the Probabilistic artifact's mean marginal σ
    uncertainty_comparison: list = _list()       # models (GraphMLP, SkateFormer) whose 4 ways of using the Probabilistic source are compared; [] = off
    uncertainty_input: str = choice("xy+cov", "xy+conf")  # the channels of the comparison's "uncertainty input" ways


@dataclass(frozen=True)
class VisConfig:
    subjects: list = _list()                     # subjects to draw; empty = data.test_subjects
    actions: list = _list()                      # canonical actions to draw; empty = every action present
    cameras: list = _list(0)                     # camera indices 0..3 to draw from
    frames: list = _list()                       # 0-based frame rows to draw; empty = `num_samples` spread evenly
    num_samples: int = 6                         # panels of the 2D grids (visualisation2D*, one frame each)
    source: str = ""                             # visualisation2D: 2D source drawn against ground truth; "" = model_2D_prediction
    pose_samples: int = 5                        # poses drawn from N(mean, Σ) in visualisation2Dprobpose
    correlation: bool = True                     # visualisation2Dprobpose also draws the joint-correlation matrix
    panel_size: int = 256                        # side in pixels of each upscaled person crop
    max_frames: int = 48                         # visualisationGIF: at most this many frames
    frame_step: int = 1                          # visualisationGIF: every k-th frame of the sequence
    fps: float = 8.0                             # visualisationGIF: frames per second
    dpi: int = 100                               # pixels per inch of the PNG figures and GIF frames
    tag: str = ""                                # appended to every figure file name (keep variants side by side)


@dataclass(frozen=True)
class JobResources:
    """What one SLURM job of a stage kind asks for (study.py launcher=slurm); every training kind runs its
    script under torchrun with `gpus` processes on one node."""
    gpus: int = 1                                # GPUs per node (torchrun --nproc_per_node for training)
    cpus: int = 8                                # CPUs per task
    mem_gb: int = 64
    time_min: int = 240                          # time limit; a job that reaches it checkpoints and requeues itself


@dataclass(frozen=True)
class CpuJob(JobResources):                      # data, inspect, comparison tables, figures, report
    gpus: int = 0
    cpus: int = 8
    mem_gb: int = 32
    time_min: int = 120


@dataclass(frozen=True)
class Train2DJob(JobResources):                  # train2D.py: ViTPose-B / 8-stack Hourglass, 210 epochs
    gpus: int = 8
    cpus: int = 64
    mem_gb: int = 256
    time_min: int = 480


@dataclass(frozen=True)
class TrainProbJob(JobResources):                # train2D_prob_pose.py: the TIC-TAC methods, 150 epochs
    gpus: int = 4
    cpus: int = 32
    mem_gb: int = 128
    time_min: int = 1440


@dataclass(frozen=True)
class PredictJob(JobResources):                  # get2Dpredictions*.py: every frame of every camera
    gpus: int = 1
    cpus: int = 16
    mem_gb: int = 64
    time_min: int = 240


@dataclass(frozen=True)
class TrainDownstreamJob(JobResources):          # main.py: GraphMLP T=243 (20 epochs) or SkateFormer (500 epochs)
    gpus: int = 1
    cpus: int = 8
    mem_gb: int = 64
    time_min: int = 720


@dataclass(frozen=True)
class EvaluateJob(JobResources):                 # get3Dprediction.py over every evaluation source (compare.py --evaluate-only)
    gpus: int = 1
    cpus: int = 8
    mem_gb: int = 64
    time_min: int = 120


JOB_KINDS = ("cpu", "train_2d", "train_prob", "predict", "train_downstream", "evaluate")  # stage kinds (utils/study/plan.py)


@dataclass(frozen=True)
class SlurmConfig:
    partition: str = ""                          # sbatch --partition; "" = the cluster's default
    account: str = ""                            # sbatch --account; "" = none
    folder: str = ""                             # submitit's job scripts and logs; "" = <output_root>/<experiment>/jobs
    max_requeues: int = 3                        # a job checkpoints and requeues itself at most this many times (preemption, time limit)
    cpu: CpuJob = field(default_factory=CpuJob)
    train_2d: Train2DJob = field(default_factory=Train2DJob)
    train_prob: TrainProbJob = field(default_factory=TrainProbJob)
    predict: PredictJob = field(default_factory=PredictJob)
    train_downstream: TrainDownstreamJob = field(default_factory=TrainDownstreamJob)
    evaluate: EvaluateJob = field(default_factory=EvaluateJob)


@dataclass(frozen=True)
class Config:
    model_2D_prediction: str = choice(*DOWNSTREAM_SOURCES_2D, default="ViTPose")  # 2D model / training 2D source
    model_2D_dataset: str = choice(*DOWNSTREAM_SOURCES_2D, default="GroundTruth")  # evaluation 2D source
    model_3D_prediction: str = choice(*MODELS_3D)                       # downstream model
    model_prob_pose: str = choice(*MODELS_2D, default="ViTPose")        # probabilistic estimator backbone
    experiment: str = "synthetic_quick"          # run folder checkpoint/<experiment>/
    profile: str = choice("quick", "standard", "paper", "test")
    output_root: str = "checkpoint"
    noise_std: float = 0.0                       # Gaussian noise added to the training 2D source (noise baseline)
    seed: int = 0
    seeds: list = _list()                        # one run per seed in <experiment>/seed<k>/, report of mean ± sd; [] = `seed`
    resume: bool = False
    launcher: str = choice("local", "slurm", "submitit_local")  # study.py: stages here, as SLURM jobs, or as submitit's local jobs
    local_jobs: int = 1                          # study.py launcher=local|submitit_local: independent stages run this many at a time
    data: DataConfig = field(default_factory=DataConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    pose2d: Pose2DConfig = field(default_factory=Pose2DConfig)
    prob: ProbConfig = field(default_factory=ProbConfig)
    lifting: LiftingConfig = field(default_factory=LiftingConfig)
    action: ActionConfig = field(default_factory=ActionConfig)
    predict: PredictConfig = field(default_factory=PredictConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    compare: CompareConfig = field(default_factory=CompareConfig)
    vis: VisConfig = field(default_factory=VisConfig)
    slurm: SlurmConfig = field(default_factory=SlurmConfig)

    # --- derived paths (the run layout) ------------------------------------------------------
    @property
    def run_dir(self) -> Path:
        return resolve_path(self.output_root) / self.experiment

    @property
    def data_root(self) -> Path:
        return resolve_path(self.data.root)

    @property
    def detections_path(self) -> Path | None:
        """The person-box detections file (data.detections), or None when unset."""
        return resolve_path(self.data.detections) if self.data.detections else None


def resolve_path(path: str) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else REPO_ROOT / p


# --- merging and validation -----------------------------------------------------------------

def _type_name(tp) -> str:
    return getattr(tp, "__name__", str(tp))


def _check_value(key: str, value, f: dataclasses.Field):
    """Validate and coerce one leaf value of field `f`."""
    tp = f.type if not isinstance(f.type, str) else _FIELD_TYPES[key]
    choices = f.metadata.get("choices")
    if isinstance(value, str) and value in DEPRECATED_ALIASES and choices and DEPRECATED_ALIASES[value] in choices:
        logger.warning("%s: %r is deprecated, use %r", key, value, DEPRECATED_ALIASES[value])
        value = DEPRECATED_ALIASES[value]
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if tp is list and isinstance(value, tuple):
        value = list(value)
    if key == "seeds" and isinstance(value, (str, int)):  # `seeds=0,1,2` on the command line reads as one string
        try:
            value = [int(v) for v in value.split(",") if v.strip()] if isinstance(value, str) else None
        except ValueError:
            value = None
        if value is None:
            raise ConfigError(f"config key 'seeds' must list integer seeds: seeds=0,1,2 or seeds=[0,1,2] "
                              f"(one run with seed k: seed=k)")
    ok = isinstance(value, tp) and not (tp is int and isinstance(value, bool))
    if tp is bool:
        ok = isinstance(value, bool)
    if not ok:
        raise ConfigError(f"config key '{key}' expects {_type_name(tp)}, got {value!r} ({type(value).__name__})")
    if choices and value not in choices:
        raise ConfigError(f"config key '{key}' = {value!r} is not valid; choose one of: {', '.join(map(str, choices))}")
    if key.endswith("methods"):
        bad = [m for m in value if m not in PROB_METHODS]
        if bad:
            raise ConfigError(f"config key '{key}' has unknown method(s) {bad}; valid: {', '.join(PROB_METHODS)}")
    return value


def _resolve_types(cls) -> dict:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


_FIELD_TYPES: dict = {}


def _build(cls, values: dict, prefix: str = ""):
    """Instantiate dataclass `cls` from a nested dict, validating every key."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    types_ = _resolve_types(cls)
    kwargs = {}
    for key, value in values.items():
        full = f"{prefix}{key}"
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.5)
            hint = f"; did you mean '{prefix}{close[0]}'?" if close else f"; valid keys: {', '.join(prefix + k for k in fields)}"
            raise ConfigError(f"unknown config key '{full}'{hint}")
        tp = types_[key]
        if dataclasses.is_dataclass(tp):
            if not isinstance(value, dict):
                raise ConfigError(f"config key '{full}' is a section; expected a mapping, got {value!r}")
            kwargs[key] = _build(tp, value, prefix=f"{full}.")
        else:
            _FIELD_TYPES[full] = tp
            kwargs[key] = _check_value(full, value, fields[key])
    return cls(**kwargs)


def _deep_merge(base: dict, update: dict) -> dict:
    out = dict(base)
    for k, v in update.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise ConfigError(f"configuration file {path} not found; pass --config FILE or restore configuration.yml from git")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    return data


def parse_overrides(items: list[str]) -> dict:
    """['a.b=3', 'c=x'] → {'a': {'b': 3}, 'c': 'x'} with YAML-typed values."""
    out: dict = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"bad override {item!r}; use key=value or section.key=value")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def load_config(overrides: list[str] | None = None, config_file: str | Path | None = None) -> Config:
    """Resolve the configuration: YAML file, then its profile, then `key=value` overrides."""
    cli = parse_overrides(overrides or [])
    path = Path(config_file) if config_file else DEFAULT_CONFIG_FILE
    merged = _read_yaml(path)
    profile = cli.get("profile", merged.get("profile", "quick"))
    if profile not in Config.__dataclass_fields__["profile"].metadata["choices"]:
        _build(Config, {"profile": profile})  # raises the standard message
    profile_file = PROFILE_DIR / f"{profile}.yml"
    if profile_file.is_file():
        merged = _deep_merge(merged, _read_yaml(profile_file))
    merged = _deep_merge(merged, cli)
    cfg = _build(Config, merged)
    _check_ranges(cfg)
    return cfg


def _check_ranges(cfg: Config) -> None:
    """Values whose type is right but whose range is not."""
    import math

    bad = [c for c in cfg.data.cameras if not (isinstance(c, int) and 0 <= c <= 3)]
    if bad or not cfg.data.cameras:
        raise ConfigError(f"config key 'data.cameras' = {cfg.data.cameras} must list camera indices in 0..3")
    if cfg.data.box_source == "detections" and not cfg.data.detections:
        raise ConfigError("config key 'data.box_source' = 'detections' needs the boxes file: set "
                          "data.detections=/path/to/boxes.npz, or choose data.box_source=silhouette")
    if not math.isfinite(cfg.noise_std) or cfg.noise_std < 0:
        raise ConfigError(f"config key 'noise_std' = {cfg.noise_std} must be finite and ≥ 0")
    for key in ("sources", "action_sources"):
        bad = [s for s in getattr(cfg.compare, key) if s not in DOWNSTREAM_SOURCES_2D]
        if bad:
            raise ConfigError(f"config key 'compare.{key}' has unknown source(s) {bad}; valid: "
                              f"{', '.join(DOWNSTREAM_SOURCES_2D)}")
    splits = list(cfg.action.splits)
    if not splits or any(s not in SPLITS for s in splits) or len(set(splits)) != len(splits):
        raise ConfigError(f"config key 'action.splits' = {list(cfg.action.splits)} must name each of {', '.join(SPLITS)} "
                          "at most once, and at least one (e.g. action.splits=[xsub])")
    bad = [m for m in cfg.compare.uncertainty_comparison if m not in MODELS_3D]
    if bad:
        raise ConfigError(f"config key 'compare.uncertainty_comparison' has unknown model(s) {bad}; valid: "
                          f"{', '.join(MODELS_3D)} (e.g. compare.uncertainty_comparison=[GraphMLP])")
    for section in ("lifting", "action"):
        rho = getattr(cfg, section).sample_rho
        if not -1 < rho < 1:
            raise ConfigError(f"config key '{section}.sample_rho' = {rho} must lie in (−1, 1) (AR(1) lag-1 correlation)")
        dropout = getattr(cfg, section).uncertainty_dropout
        if not 0 <= dropout <= 1:
            raise ConfigError(f"config key '{section}.uncertainty_dropout' = {dropout} must lie in [0, 1] (a probability)")
    for section in ("pose2d", "prob", "lifting", "action"):
        part = getattr(cfg, section)
        if part.epochs < 0:
            raise ConfigError(f"config key '{section}.epochs' = {part.epochs} must be ≥ 0")
        if part.batch_size < 1:
            raise ConfigError(f"config key '{section}.batch_size' = {part.batch_size} must be ≥ 1")
        if not (math.isfinite(part.lr) and part.lr > 0):
            raise ConfigError(f"config key '{section}.lr' = {part.lr} must be a positive number")
    if cfg.evaluate.batch_size < 1:
        raise ConfigError(f"config key 'evaluate.batch_size' = {cfg.evaluate.batch_size} must be ≥ 1")
    for key in ("hourglass_epochs", "hourglass_lr", "hourglass_batch_size", "hourglass_sigma"):
        value = getattr(cfg.pose2d, key)
        if not (math.isfinite(value) and value >= 0):
            raise ConfigError(f"config key 'pose2d.{key}' = {value} must be ≥ 0 (0 = the shared key)")
    for key in ("weight_decay", "hourglass_weight_decay"):
        value = getattr(cfg.pose2d, key)
        if not (math.isfinite(value) and value >= 0):
            raise ConfigError(f"config key 'pose2d.{key}' = {value} must be ≥ 0 (0 = no weight decay)")
    if cfg.prob.tic_chunk_size < 0:
        raise ConfigError(f"config key 'prob.tic_chunk_size' = {cfg.prob.tic_chunk_size} must be ≥ 0 (0 = the whole batch)")
    if cfg.local_jobs < 1:
        raise ConfigError(f"config key 'local_jobs' = {cfg.local_jobs} must be ≥ 1 (1 = one stage at a time)")
    for kind in JOB_KINDS:
        res = getattr(cfg.slurm, kind)
        if res.gpus < 0 or res.cpus < 1 or res.mem_gb < 1 or res.time_min < 1:
            raise ConfigError(f"config key 'slurm.{kind}' = {res} needs gpus ≥ 0 and cpus, mem_gb, time_min ≥ 1")
    if any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in cfg.seeds) \
            or len(set(cfg.seeds)) != len(cfg.seeds):
        raise ConfigError(f"config key 'seeds' = {cfg.seeds} must list distinct integer seeds ≥ 0 (seeds=0,1,2); "
                          f"[] runs the one seed of `seed`")


def to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def save_config(cfg: Config | dict, path: Path) -> None:
    """Write the resolved configuration (a Config or its ``to_dict``) as YAML, atomically (next to every output).

    The temporary file is ``.<name>.tmp<pid>``, the pattern a run folder's stale-temporary cleanup removes.
    """
    from utils.engine.files import atomic_open

    with atomic_open(path) as fh:
        fh.write(yaml.safe_dump(cfg if isinstance(cfg, dict) else to_dict(cfg), sort_keys=False))


def split_argv(argv: list[str]) -> tuple[str | None, list[str], set[str]]:
    """Split a script's argv into (--config FILE, key=value overrides, --flags)."""
    config_file, overrides, flags = None, [], set()
    it = iter(argv)
    for arg in it:
        if arg == "--config":
            config_file = next(it, None)
            if config_file is None:
                raise ConfigError("--config needs a file name")
        elif arg.startswith("--config="):
            config_file = arg.split("=", 1)[1]
        elif arg.startswith("--"):
            flags.add(arg[2:])
        else:
            overrides.append(arg)
    return config_file, overrides, flags


def key_comments(path: str | Path = DEFAULT_CONFIG_FILE) -> dict[str, str]:
    """The one-line comment of every key in configuration.yml, by dotted key: {'pose2d.sigma': 'Gaussian …'}.

    A section line's own comment (``pose2d:  # train2D.py …``) is kept under the section's name.
    """
    comments: dict[str, str] = {}
    sections: list[tuple[int, str]] = []  # (indent, name) of the open sections
    for line in Path(path).read_text().splitlines():
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#") or ":" not in stripped:
            continue
        indent = len(line) - len(stripped)
        while sections and sections[-1][0] >= indent:
            sections.pop()
        key, rest = stripped.split(":", 1)
        value, _, comment = rest.partition(" #")
        name = ".".join([s for _, s in sections] + [key.strip()])
        if comment.strip():
            comments[name] = comment.strip()
        if not value.strip():
            sections.append((indent, key.strip()))
    return comments

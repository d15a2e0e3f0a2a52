"""The training loop shared by every stage: ``train_one_epoch`` and ``evaluate`` plus ``fit``.

A stage supplies a ``step(model, batch) -> (loss, metrics: dict[str, float], batch_size)``
function for training and an ``eval_step`` for validation, and reads the result. ``fit`` handles
what every stage needs identically: resume from ``last.pt``, per-epoch validation, checkpoints
written atomically, ``metrics.csv`` and ``curves.png`` in the run folder, progress bars on rank 0
only, metrics reduced across ranks.

No model selection: the validation split is the test subjects, so its metrics are monitoring curves
only. Every epoch writes ``model.pt`` (the weights, which the prediction stages load) and then
``last.pt`` (the same weights plus optimiser, scheduler and RNG states, to resume); both always hold
the last finished epoch.
"""
from __future__ import annotations

import csv
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from tqdm import tqdm

from config import save_config
from utils.engine import runtime
from utils.engine.files import write_csv
from utils.engine.checkpoint import (atomic_save, load_checkpoint, make_checkpoint, resume_rng_state, rng_state,
                              set_rng_state, without_resume_state)
from utils.engine.layout import RESUME_FILE, WEIGHTS_FILE

logger = logging.getLogger(__name__)

StepFn = Callable[[torch.nn.Module, object], tuple]


@dataclass
class Trainer:
    """Everything `fit` needs; plain fields so a script builds it in a few lines."""
    model: torch.nn.Module
    model_name: str
    model_kwargs: dict
    optimizer: torch.optim.Optimizer
    train_loader: object
    val_loader: object
    train_step: StepFn
    eval_step: StepFn
    run_dir: Path
    config: dict
    epochs: int
    device: torch.device
    scheduler: object = None              # stepped per iteration if `scheduler_per_step`, else per epoch
    scheduler_per_step: bool = False
    amp: bool = True
    grad_clip: float = 0.0
    resume: bool = False
    desc: str = "train"
    on_epoch_start: Callable[[int], None] | None = None
    precise_bn_batches: int = 0           # > 0: BatchNorm statistics recomputed on this many training batches before each validation


def _to_device(batch, device):
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


class _Averager:
    def __init__(self):
        self.sums: dict[str, float] = {}
        self.count = 0

    def add(self, metrics: dict, n: int):
        for k, v in metrics.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v) * n
        self.count += n

    def result(self, device) -> dict:
        local = {k: v / max(self.count, 1) for k, v in self.sums.items()}
        return runtime.reduce_mean(local, self.count, device)


def train_one_epoch(t: Trainer, epoch: int) -> dict:
    t.model.train()
    avg = _Averager()
    sampler = getattr(t.train_loader, "sampler", None)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)
    bar = tqdm(t.train_loader, desc=f"{t.desc} epoch {epoch + 1}/{t.epochs}", leave=False,
               disable=runtime.quiet(), dynamic_ncols=True)
    for batch in bar:
        batch = _to_device(batch, t.device)
        with runtime.autocast(t.device, t.amp):
            loss, metrics, n = t.train_step(t.model, batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{t.desc}: non-finite loss {loss.item()} at epoch {epoch + 1}; "
                                     f"lower the learning rate or check the inputs ({metrics})")
        t.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if t.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(t.model.parameters(), t.grad_clip)
        t.optimizer.step()
        if t.scheduler is not None and t.scheduler_per_step:
            t.scheduler.step()
        avg.add({"loss": loss.item(), **metrics}, n)
        bar.set_postfix(loss=f"{loss.item():.4g}")
    out = avg.result(t.device)
    out["lr"] = t.optimizer.param_groups[0]["lr"]
    return {f"train_{k}" if k != "lr" else k: v for k, v in out.items()}


@torch.no_grad()
def recompute_batchnorm(t: Trainer, batches: int) -> int:
    """Precise BatchNorm (Wu & Johnson, "Rethinking 'Batch' in BatchNorm", 2021; detectron2's PreciseBN hook): replace
    every BatchNorm layer's running mean and variance by their plain average over `batches` training batches taken at
    the current weights, instead of the momentum average of batches seen while the weights moved. Returns the number of
    batches used (0 when `batches` ≤ 0 or without a BatchNorm layer).

    In a short run at a high learning rate the momentum average lags the weights: SkateFormer on the quick profile
    validated at the majority class for its first 4 of 8 epochs (7.2 % top-1) while its training accuracy reached 40 %,
    and at 18.6–50.9 % from the first epoch with the statistics recomputed on 10 batches (README, Configuration).
    The forward passes run in training mode (dropout and drop path as in training) without gradients; each layer's
    momentum and the model's mode are restored."""
    if batches <= 0:  # off: the momentum average stays
        return 0
    norms = [m for m in t.model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return 0
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: the plain mean over the batches below
    was_training = t.model.training
    t.model.train()
    used = 0
    for batch in t.train_loader:
        with runtime.autocast(t.device, t.amp):
            t.train_step(t.model, _to_device(batch, t.device))
        used += 1
        if used >= batches:
            break
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    t.model.train(was_training)
    return used


@torch.no_grad()
def evaluate(model: torch.nn.Module, loader, eval_step: StepFn, device: torch.device, amp: bool = True,
             desc: str = "val") -> dict:
    model.eval()
    avg = _Averager()
    for batch in tqdm(loader, desc=desc, leave=False, disable=runtime.quiet(), dynamic_ncols=True):
        batch = _to_device(batch, device)
        with runtime.autocast(device, amp):
            metrics, n = eval_step(model, batch)
        avg.add(metrics, n)
    return avg.result(device)


def _read_csv(path: Path) -> tuple[list[str], list[dict]]:
    if not path.is_file():
        return [], []
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def _append_csv(path: Path, row: dict) -> None:
    """Add the row of epoch `row['epoch']`, dropping rows of that epoch or later (left by a run that was
    killed between this write and last.pt, or by an older run) and rows with other columns."""
    header, rows = _read_csv(path)
    if header != list(row):
        rows = []  # columns changed (e.g. resumed with other metrics): start the log again
    kept = [r for r in rows if r.get("epoch", "").isdigit() and int(r["epoch"]) < row["epoch"]]
    write_csv(path, list(row), kept + [row])


def _remove_stale_temporaries(run_dir: Path) -> None:
    """Temporary files of a run killed while writing (utils.engine.files.atomic_open never renamed them)."""
    for tmp in run_dir.glob(".*.tmp*"):
        if tmp.is_file():
            tmp.unlink()


PLOT_EVERY_S = 30.0  # seconds between redraws of curves.png during a run


def fit(t: Trainer) -> dict:
    """Train for `t.epochs`, validating every epoch; returns the last validation metrics."""
    t.run_dir.mkdir(parents=True, exist_ok=True)
    last_path, weights_path = t.run_dir / RESUME_FILE, t.run_dir / WEIGHTS_FILE
    csv_path = t.run_dir / "metrics.csv"
    start_epoch, step = 0, 0
    if t.resume and last_path.is_file():
        ckpt = load_checkpoint(last_path, expect_model=t.model_name)
        runtime.unwrap(t.model).load_state_dict(ckpt["model"])
        t.optimizer.load_state_dict(ckpt["optimizer"])
        if t.scheduler is not None and ckpt["scheduler"] is not None:
            t.scheduler.load_state_dict(ckpt["scheduler"])
        start_epoch, step = ckpt["epoch"], ckpt["step"]
        set_rng_state(resume_rng_state(ckpt, runtime.rank()))
        logger.info("resumed %s from %s at epoch %d", t.model_name, last_path, start_epoch)
    elif t.resume:
        logger.info("resume=true but %s does not exist yet: starting from scratch", last_path)
    if runtime.is_main_process():
        _remove_stale_temporaries(t.run_dir)

    metrics: dict = {}
    last_plot = time.perf_counter()
    for epoch in range(start_epoch, t.epochs):
        if t.on_epoch_start is not None:
            t.on_epoch_start(epoch)
        started = time.perf_counter()
        train_metrics = train_one_epoch(t, epoch)
        step += len(t.train_loader)
        recompute_batchnorm(t, t.precise_bn_batches)
        val_metrics = evaluate(t.model, t.val_loader, t.eval_step, t.device, t.amp, desc=f"{t.desc} val")
        if t.scheduler is not None and not t.scheduler_per_step:
            t.scheduler.step()
        metrics = {"epoch": epoch + 1, **train_metrics, **{f"val_{k}": v for k, v in val_metrics.items()},
                   "seconds": round(time.perf_counter() - started, 2)}
        rng_per_rank = runtime.all_gather_object(rng_state())  # a collective: every rank, every epoch
        if runtime.is_main_process():
            ckpt = make_checkpoint(model=t.model, model_name=t.model_name, model_kwargs=t.model_kwargs,
                                   config=t.config, epoch=epoch + 1, step=step, optimizer=t.optimizer,
                                   scheduler=t.scheduler, epochs=t.epochs, rng_per_rank=rng_per_rank)
            # The row first, last.pt last: after a kill in between, the resumed run redoes the epoch and
            # _append_csv replaces its row (and model.pt, with the same weights: the rerun is deterministic).
            # Until a run's first epoch ends, an older metrics.csv stays intact.
            _append_csv(csv_path, metrics)
            atomic_save(without_resume_state(ckpt), weights_path)
            atomic_save(ckpt, last_path)
            save_config(t.config, t.run_dir / "config.yml")  # with the checkpoint: a failed run leaves the old one
            # redrawn at most every PLOT_EVERY_S (a plot costs ~0.5 s: a quarter of a tiny CPU epoch) and at the end
            if epoch + 1 == t.epochs or time.perf_counter() - last_plot >= PLOT_EVERY_S:
                plot_curves(csv_path, t.run_dir / "curves.png", title=t.desc)
                last_plot = time.perf_counter()
            logger.info("%s epoch %d: %s", t.desc, epoch + 1,
                        ", ".join(f"{k}={v:.4g}" for k, v in metrics.items() if isinstance(v, float)))
    return metrics


PANEL_TITLES = {
    "error_px": "2D error (full-frame px) ↓", "tac_px": "TAC (px) ↓", "ll": "log-likelihood ↑",
    "cover1": "1σ coverage (ideal 0.393)", "cover2": "2σ coverage (ideal 0.865)", "pck05": "PCK@0.05 ↑",
    "pck10": "PCK@0.1 ↑", "ap50": "AP50 (study's definition) ↑", "loss": "validation loss ↓",
    "mpjpe_mm": "MPJPE (mm) ↓", "top1": "top-1 accuracy ↑",
}


def _metric_families(keys: list[str]) -> dict[str, list[tuple[str, str]]]:
    """Group validation columns into panels: 'val_TIC_tac_px' and 'val_NLL_tac_px' share the panel 'tac_px'."""
    names = [k[len("val_"):] for k in keys]
    tails = [n.split("_", 1)[1] if "_" in n else n for n in names]
    families: dict[str, list[tuple[str, str]]] = {}
    for key, name, tail in zip(keys, names, tails):
        shared = tails.count(tail) > 1 and "_" in name
        family, label = (tail, name.split("_", 1)[0]) if shared else (name, name)
        families.setdefault(family, []).append((key, label))
    return families


def plot_curves(csv_path: Path, out_path: Path, title: str = "") -> None:
    """Training curves from metrics.csv: one panel for the losses, one per validation metric."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    with open(csv_path) as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return
    epochs = [int(r["epoch"]) for r in rows]
    losses = [k for k in rows[0] if k.startswith("train_") and k.endswith("loss")]
    families = _metric_families([k for k in rows[0] if k.startswith("val_")])
    panels = [("training loss", [(k, k[len("train_"):]) for k in losses])] + list(families.items())
    cols = min(len(panels), 3)
    nrows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(4.6 * cols, 3.4 * nrows), squeeze=False)
    for ax, (name, series) in zip(axes.flat, panels):
        for key, label in series:
            ax.plot(epochs, [float(r[key]) for r in rows], marker="o", label=label)
        ax.set_title(PANEL_TITLES.get(name, name.replace("_", " ")))
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if len(series) > 1:
            ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    tmp = out_path.with_name(f".{out_path.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(out_path)

"""The training loop shared by every stage: ``train_one_epoch`` and ``evaluate`` plus ``fit``.

A stage supplies a ``step(model, batch) -> (loss, metrics: dict[str, float], batch_size)``
function for training and an ``eval_step`` for validation, and reads the result. ``fit`` handles
what every stage needs identically: resume from ``last.pt``, per-epoch validation, best/last
checkpoints written atomically, ``metrics.csv`` and ``curves.png`` in the run folder, progress bars
on rank 0 only, metrics reduced across ranks.
"""
from __future__ import annotations

import csv
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from tqdm import tqdm

from utils import runtime
from utils.checkpoint import atomic_save, load_checkpoint, make_checkpoint, set_rng_state

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
    monitor: str                          # validation metric used for the best checkpoint
    monitor_mode: str = "min"             # 'min' or 'max'
    scheduler: object = None              # stepped per iteration if `scheduler_per_step`, else per epoch
    scheduler_per_step: bool = False
    amp: bool = True
    grad_clip: float = 0.0
    resume: bool = False
    desc: str = "train"
    on_epoch_start: Callable[[int], None] | None = None
    extra: dict = field(default_factory=dict)


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
               disable=not runtime.is_main_process(), dynamic_ncols=True)
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
def evaluate(model: torch.nn.Module, loader, eval_step: StepFn, device: torch.device, amp: bool = True,
             desc: str = "val") -> dict:
    model.eval()
    avg = _Averager()
    for batch in tqdm(loader, desc=desc, leave=False, disable=not runtime.is_main_process(), dynamic_ncols=True):
        batch = _to_device(batch, device)
        with runtime.autocast(device, amp):
            metrics, n = eval_step(model, batch)
        avg.add(metrics, n)
    return avg.result(device)


def _append_csv(path: Path, row: dict) -> None:
    exists = path.is_file()
    if exists:
        with open(path) as fh:
            header = next(csv.reader(fh), [])
        if header != list(row):
            exists = False  # columns changed (e.g. resumed with other metrics): rewrite below
    mode = "a" if exists else "w"
    with open(path, mode, newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row))
        if not exists:
            writer.writeheader()
        writer.writerow(row)


def _truncate_csv(path: Path, epochs_done: int) -> None:
    """On resume, drop rows of epochs that were not checkpointed (a crash after the CSV write)."""
    if not path.is_file():
        return
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    rows = [r for r in rows if int(r["epoch"]) <= epochs_done]
    if rows:
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    else:
        path.unlink()


def fit(t: Trainer) -> dict:
    """Train for `t.epochs`, validating every epoch; returns the last validation metrics."""
    t.run_dir.mkdir(parents=True, exist_ok=True)
    last_path, best_path = t.run_dir / "last.pt", t.run_dir / "model.pt"
    csv_path = t.run_dir / "metrics.csv"
    start_epoch, step = 0, 0
    best = math.inf if t.monitor_mode == "min" else -math.inf
    if t.resume and last_path.is_file():
        ckpt = load_checkpoint(last_path, expect_model=t.model_name)
        runtime.unwrap(t.model).load_state_dict(ckpt["model"])
        t.optimizer.load_state_dict(ckpt["optimizer"])
        if t.scheduler is not None and ckpt["scheduler"] is not None:
            t.scheduler.load_state_dict(ckpt["scheduler"])
        start_epoch, step = ckpt["epoch"], ckpt["step"]
        best = ckpt["best_metric"] if ckpt["best_metric"] is not None else best
        set_rng_state(ckpt["rng"])
        if runtime.is_main_process():
            _truncate_csv(csv_path, start_epoch)
        logger.info("resumed %s from %s at epoch %d", t.model_name, last_path, start_epoch)
    elif t.resume:
        logger.info("resume=true but %s does not exist yet: starting from scratch", last_path)
    elif runtime.is_main_process() and csv_path.is_file():
        csv_path.unlink()  # a fresh run replaces the old log

    metrics: dict = {}
    for epoch in range(start_epoch, t.epochs):
        if t.on_epoch_start is not None:
            t.on_epoch_start(epoch)
        started = time.perf_counter()
        train_metrics = train_one_epoch(t, epoch)
        step += len(t.train_loader)
        val_metrics = evaluate(t.model, t.val_loader, t.eval_step, t.device, t.amp, desc=f"{t.desc} val")
        if t.scheduler is not None and not t.scheduler_per_step:
            t.scheduler.step()
        metrics = {"epoch": epoch + 1, **train_metrics, **{f"val_{k}": v for k, v in val_metrics.items()},
                   "seconds": round(time.perf_counter() - started, 2)}
        value = metrics[f"val_{t.monitor}"]
        improved = value < best if t.monitor_mode == "min" else value > best
        if improved:
            best = value
        if runtime.is_main_process():
            ckpt = make_checkpoint(model=t.model, model_name=t.model_name, model_kwargs=t.model_kwargs,
                                   config=t.config, epoch=epoch + 1, step=step, optimizer=t.optimizer,
                                   scheduler=t.scheduler, best_metric=best, extra=t.extra)
            if improved:
                atomic_save(ckpt, best_path)
            atomic_save(ckpt, last_path)
            _append_csv(csv_path, metrics)
            plot_curves(csv_path, t.run_dir / "curves.png", title=t.desc)
            logger.info("%s epoch %d: %s", t.desc, epoch + 1,
                        ", ".join(f"{k}={v:.4g}" for k, v in metrics.items() if isinstance(v, float)))
    return metrics


def plot_curves(csv_path: Path, out_path: Path, title: str = "") -> None:
    """Training curves from metrics.csv: losses on the left, validation metrics on the right."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(csv_path) as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return
    epochs = [int(r["epoch"]) for r in rows]
    losses = [k for k in rows[0] if k.endswith("loss")]
    others = [k for k in rows[0] if k.startswith("val_") and not k.endswith("loss")]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for k in losses:
        axes[0].plot(epochs, [float(r[k]) for r in rows], marker="o", label=k)
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("loss")
    axes[0].set_title("loss")
    axes[0].legend(fontsize=8)
    axes[0].grid(alpha=0.3)
    for k in others:
        axes[1].plot(epochs, [float(r[k]) for r in rows], marker="o", label=k)
    axes[1].set_xlabel("epoch")
    axes[1].set_title("validation metrics")
    if others:
        axes[1].legend(fontsize=8)
    axes[1].grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    tmp = out_path.with_name(f".{out_path.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(out_path)

"""Model benchmarks: forward and training-step throughput (eager vs ``torch.compile``), parameters, FLOPs.

- CPU-sized presets (``CPU_PRESETS``): samples/s of a forward pass (eval mode, ``no_grad``) and of a
  training step (train mode, forward + backward of a mean-square loss; no optimiser step, which is
  < 1 % of a step for these sizes), eager and compiled. Compilation runs in a child process with a
  wall-clock limit (a compile cannot be interrupted in-process), so a slow or failing compile costs
  at most that limit and shows as "n/a (reason)".
- Every preset, including the official sizes (``OFFICIAL_PRESETS``): parameter count and FLOPs per
  sample, counted by ``torch.utils.flop_counter.FlopCounterMode`` over one batch-1 forward in eval mode
  on the meta device (shapes only: no memory, no arithmetic, seconds even for ViTPose-B). FLOPs count
  matmuls, convolutions and attention (2 per multiply-add), not element-wise ops.
"""
from __future__ import annotations

import copy
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from bench import Row, error_reason, fmt_count, fmt_ratio, fmt_rate, fmt_seconds, timed, timed_pair
from dataloader.h36m import NUM_JOINTS
from models import registry

CPU_PRESETS = (("ViTPose", "tiny"), ("ViTPose", "tiny64"), ("Hourglass", "tiny"), ("Hourglass", "tiny128"),
               ("GraphMLP", "tiny"), ("GraphMLP", "tiny27"), ("SkateFormer", "tiny"))
OFFICIAL_PRESETS = (("ViTPose", "B"), ("Hourglass", "8stack"), ("GraphMLP", "T243"), ("SkateFormer", "ntu"))
FAMILIES = tuple(registry.FAMILIES)
PHASES = ("train", "forward")
# The children's own inductor cache (kept between runs; emptied when a compile is killed at its time
# limit, which can leave a truncated kernel library behind), so a kill never damages the default cache.
INDUCTOR_CACHE = Path(tempfile.gettempdir()) / f"bench_inductor_cache_{os.getuid() if hasattr(os, 'getuid') else 0}"

InputFn = Callable[[int], tuple[torch.Tensor, ...]]


def build_model(family: str, preset: str) -> tuple[nn.Module, InputFn]:
    """(model with random weights, ``inputs(batch)`` → the positional inputs of one batch) of a preset.

    Inputs are random in the model's own layout: images (B, 3, H, W); 2D windows (B, T, J, 2);
    skeleton clips (B, C, T, V, M) with frame positions (B, T) in [−1, 1].
    """
    fam = registry.family(family)
    presets = fam.preset_table()
    if preset not in presets:
        raise KeyError(f"unknown {family} preset {preset!r}; valid presets: {', '.join(presets)}")
    if fam.task == "pose2d":
        from models.pose2d import build_pose_model

        model = build_pose_model(family, preset, NUM_JOINTS)
        size = tuple(model.input_size)
        return model, lambda b: (torch.randn(b, 3, *size),)
    kw = presets[preset]
    model = fam.model_class()(**kw)
    if fam.task == "lifting":
        frames = model.frames
        return model, lambda b: (torch.randn(b, frames, NUM_JOINTS, 2),)
    shape = (kw["in_channels"], kw["num_frames"], kw["num_points"], kw["num_people"])
    return model, lambda b: (torch.randn(b, *shape), torch.linspace(-1, 1, shape[1]).expand(b, shape[1]))


def batch_size(cfg, family: str) -> int:
    """The configured training batch of the stage that trains `family` (pose2d, lifting or action)."""
    return getattr(cfg, registry.family(family).task).batch_size


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(family: str, preset: str) -> dict:
    """{params, flops_per_sample, seconds}: one batch-1 forward in eval mode on the meta device."""
    started = time.perf_counter()
    with torch.device("meta"):
        model, inputs = build_model(family, preset)
        x = inputs(1)
    model.eval()  # BatchNorm in train mode refuses a 1×1 map at batch 1
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(*x)
    return {"params": parameter_count(model), "flops_per_sample": counter.get_total_flops(),
            "seconds": time.perf_counter() - started}


def _forward_fn(model: nn.Module, x: tuple) -> Callable[[], object]:
    def forward():
        with torch.no_grad():
            return model(*x)
    return forward


def train_step_fn(model: nn.Module, params: list[nn.Parameter]) -> Callable[..., torch.Tensor]:
    """``step(*inputs)``: forward, mean-square loss, backward, gradients of `params` dropped; returns the loss."""
    def step(*inputs):
        loss = model(*inputs).float().square().mean()
        loss.backward()
        for p in params:
            p.grad = None
        return loss
    return step


def measure(family: str, preset: str, batch: int, *, compile: bool = False, budget_s: float = 3.0,
            phases: tuple[str, ...] = PHASES, report: Callable[[dict], None] | None = None) -> dict:
    """Samples/s of the training step and of the forward pass (``phases``, in that order).

    Eager: ``{phase}_sps``. With ``compile``: the first call (the compilation) is reported as
    ``compile_{phase}_s``, then compiled and eager calls alternate (``{phase}_sps`` compiled,
    ``{phase}_eager_sps`` eager), so their ratio does not depend on the load drifting between two
    measurements. ``report`` gets the partial result after each phase (the child process prints it,
    so a timeout during the forward compile keeps the training-step numbers).
    """
    torch.manual_seed(0)
    eager, inputs = build_model(family, preset)
    params = [p for p in eager.parameters() if p.requires_grad]
    model = torch.compile(eager) if compile else eager
    x = inputs(batch)
    out: dict = {"batch": batch}
    train_compiled, train_eager = train_step_fn(model, params), train_step_fn(eager, params)
    functions = {("train", "compiled"): lambda: train_compiled(*x), ("train", "eager"): lambda: train_eager(*x),
                 ("forward", "compiled"): _forward_fn(model, x), ("forward", "eager"): _forward_fn(eager, x)}
    for phase in phases:
        eager.train(phase == "train")
        if not compile:
            seconds, out[f"{phase}_repeats"] = timed(functions[phase, "eager"], repeats=5, budget_s=budget_s)
            out[f"{phase}_sps"] = batch / seconds
        else:
            t0 = time.perf_counter()
            functions[phase, "compiled"]()
            out[f"compile_{phase}_s"] = time.perf_counter() - t0
            fast, slow, out[f"{phase}_repeats"] = timed_pair(functions[phase, "compiled"], functions[phase, "eager"],
                                                             repeats=5, budget_s=budget_s)
            out[f"{phase}_sps"], out[f"{phase}_eager_sps"] = batch / fast, batch / slow
        if report is not None:
            report(dict(out))
    return out


def measure_in_child(family: str, preset: str, batch: int, timeout_s: float, *, compile: bool = False,
                     budget_s: float = 3.0, phases: tuple[str, ...] = PHASES,
                     env: dict[str, str | None] | None = None) -> tuple[dict, str | None]:
    """``measure`` in a child process (same torch thread count, environment changed by `env`, where
    None removes a variable), limited to ``timeout_s`` wall-clock seconds.

    Returns (the numbers it reported, None) or (partial numbers, the reason it stopped early).
    """
    cmd = [sys.executable, "-m", "bench.bench_models", "--measure", family, preset, str(batch),
           "--threads", str(torch.get_num_threads()), "--budget", str(budget_s), "--phases", *phases]
    cmd += ["--compile"] if compile else []
    # always the bench's own cache: torch itself writes its default into os.environ on first use
    child_env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(INDUCTOR_CACHE)}
    for key, value in (env or {}).items():
        if value is None:
            child_env.pop(key, None)
        else:
            child_env[key] = value
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen(cmd, cwd=root, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # own process group: a timeout also ends inductor's workers
    reason = None
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        reason = f"{'compile + ' if compile else ''}timing > {timeout_s:.3g} s limit"
        if compile and child_env["TORCHINDUCTOR_CACHE_DIR"] == str(INDUCTOR_CACHE):
            shutil.rmtree(INDUCTOR_CACHE, ignore_errors=True)  # a killed compile can leave a truncated .so
    results = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    if reason is None and proc.returncode != 0:
        lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
        errors = [ln for ln in lines if re.match(r"^[\w.]+(Error|Exception)\b", ln)]  # 'torch…InductorError: …'
        last = (errors or lines or [f"exit {proc.returncode}"])[-1]
        reason = f"{'compile failed' if compile else 'failed'}: {last[:100]}".replace("|", "/")
    return (results[-1] if results else {}), reason


def bench_model(family: str, preset: str, batch: int, *, compile_timeout_s: float | None = None,
                budget_s: float = 3.0) -> list[Row]:
    """Two rows (forward, training step) of a CPU preset: compiled vs eager samples/s, params, FLOPs.

    Without ``compile_timeout_s`` the compiled column reads "n/a (not attempted)"; fill it later with
    :func:`set_compiled` (``python -m bench`` compiles last, within what is left of its time limit).
    """
    size = count_flops(family, preset)
    eager = measure(family, preset, batch, budget_s=budget_s)
    flops = size["flops_per_sample"]
    rows = []
    phases = (("forward", "forward (eval, no_grad)", 1), ("train", "training step (fwd+bwd)", 3))  # bwd ≈ 2× fwd
    for phase, label, flop_factor in phases:
        achieved = fmt_rate(flop_factor * flops * eager[f"{phase}_sps"], "FLOP/s")
        rows.append(Row(
            group="model", benchmark=f"{family} {preset}: {label}, torch.compile vs eager",
            measured="n/a (not attempted)", baseline=f"{fmt_rate(eager[f'{phase}_sps'], ' samples/s')} eager",
            notes=f"B={batch}, {fmt_count(size['params'])} params, {fmt_count(flops)}FLOP/sample, eager at {achieved}"
                  + (" (bwd ≈ 2× fwd)" if phase == "train" else ""),
            numbers={"eager_sps": eager[f"{phase}_sps"], "compiled_sps": float("nan"), "params": size["params"],
                     "flops_per_sample": flops, "batch": batch}))
    if compile_timeout_s is not None:
        set_compiled(rows, *measure_in_child(family, preset, batch, compile_timeout_s, compile=True, budget_s=budget_s))
    return rows


def set_compiled(rows: list[Row], compiled: dict, reason: str | None) -> None:
    """Fill the compiled column of :func:`bench_model`'s two rows from ``measure(compile=True)`` numbers,
    or "n/a (reason)" for a phase without a number. The ratio is against the eager calls timed
    alternately with the compiled ones (same process, same moment), shown in the notes."""
    for row, phase in zip(rows, ("forward", "train")):
        fast, slow = compiled.get(f"{phase}_sps"), compiled.get(f"{phase}_eager_sps")
        row.measured = fmt_rate(fast, " samples/s") if fast else f"n/a ({reason or 'no result'})"
        row.ratio = fmt_ratio(fast / slow if fast and slow else None)
        row.numbers["compiled_sps"] = fast or float("nan")
        if fast and slow:
            row.numbers["paired_eager_sps"] = slow
            row.notes += f", ratio vs eager timed alternately with it: {fmt_rate(slow, ' samples/s')}"
        if f"compile_{phase}_s" in compiled:
            row.numbers[f"compile_{phase}_s"] = compiled[f"compile_{phase}_s"]
            row.notes += f", first call (compile) {compiled[f'compile_{phase}_s']:.0f} s"


def bench_size(family: str, preset: str, time_limit_s: float = 20.0) -> Row:
    """Parameters and FLOPs per sample of a preset (official sizes: no throughput on a CPU)."""
    try:
        size = count_flops(family, preset)
    except Exception as error:  # an op without a meta kernel: say so instead of stopping the bench
        return Row(group="model size", benchmark=f"{family} {preset}: FLOPs per sample",
                   measured=f"n/a ({error_reason(error)})")
    slow = size["seconds"] > time_limit_s
    return Row(group="model size", benchmark=f"{family} {preset}: FLOPs per sample (batch-1 forward)",
               measured=f"{fmt_count(size['flops_per_sample'])}FLOP",
               notes=f"{fmt_count(size['params'])} params; counted on the meta device in "
                     f"{fmt_seconds(size['seconds'])}" + (f" (over the {time_limit_s:g} s limit)" if slow else ""),
               numbers={k: float(v) for k, v in size.items()})


def bench_optimizer(family: str, preset: str, batch: int, repeats: int = 20) -> Row:
    """``optimizer.step()`` of AdamW with ``fused=True`` (what the training scripts use: one kernel over all
    parameters) vs the default multi-tensor ``foreach`` implementation, on gradients of one real backward."""
    model, make_inputs = build_model(family, preset)
    model.train()
    model(*make_inputs(batch)).float().square().mean().backward()
    seconds = {}
    for fused in (False, True):
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6, fused=fused)
        seconds[fused], _ = timed(optimizer.step, repeats=repeats, warmup=2, budget_s=3.0)
    ratio = seconds[False] / seconds[True]
    return Row(group="model", benchmark=f"{family} {preset}: AdamW step, fused vs foreach",
               measured=fmt_seconds(seconds[True]), baseline=f"{fmt_seconds(seconds[False])} foreach",
               ratio=fmt_ratio(ratio), notes=f"{parameter_count(model) / 1e3:.0f}k params in "
                                             f"{sum(1 for _ in model.parameters())} tensors",
               numbers={"fused_s": seconds[True], "foreach_s": seconds[False]})


def bench_channels_last(family: str, preset: str, batch: int, budget_s: float = 3.0) -> Row:
    """A training step (forward + backward) with the model in channels-last memory (``runtime.channels_last``:
    what train2D.py and get2Dpredictions.py do with the Hourglass) vs NCHW-contiguous, on the same weights and
    inputs, timed alternately (``timed_pair``)."""
    model, make_inputs = build_model(family, preset)
    model.train()
    x = make_inputs(batch)
    contiguous = copy.deepcopy(model)
    last = model.to(memory_format=torch.channels_last)
    step_last = train_step_fn(last, list(last.parameters()))
    step_contiguous = train_step_fn(contiguous, list(contiguous.parameters()))
    t_last, t_contiguous, calls = timed_pair(lambda: step_last(*x), lambda: step_contiguous(*x), budget_s=budget_s)
    return Row(group="model", benchmark=f"{family} {preset}: training step (fwd+bwd), channels-last vs contiguous memory",
               measured=fmt_rate(batch / t_last, " samples/s"),
               baseline=f"{fmt_rate(batch / t_contiguous, ' samples/s')} contiguous",
               ratio=fmt_ratio(t_contiguous / t_last), notes=f"B={batch}, {calls} alternating calls of each",
               numbers={"channels_last_s": t_last, "contiguous_s": t_contiguous, "ratio": t_contiguous / t_last})


def bench_wait_policy(family: str, preset: str, batch: int, timeout_s: float = 90.0, budget_s: float = 3.0) -> Row:
    """The training step with ``OMP_WAIT_POLICY=PASSIVE`` vs the variable unset (libgomp spins before it
    sleeps), each in a fresh child process. Spinning threads hurt when the cores are oversubscribed
    (DataLoader workers, other jobs): an intra-op barrier then waits for a thread that is not running."""
    results = {}
    for policy in (None, "PASSIVE"):
        results[policy], reason = measure_in_child(family, preset, batch, timeout_s, budget_s=budget_s,
                                                   phases=("train",), env={"OMP_WAIT_POLICY": policy})
        if reason:
            results[policy]["reason"] = reason
    unset, passive = results[None].get("train_sps"), results["PASSIVE"].get("train_sps")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return Row(group="threads", benchmark=f"OMP_WAIT_POLICY=PASSIVE vs unset: {family} {preset} training step "
                                          f"(child processes)",
               measured=fmt_rate(passive, " samples/s") if passive else f"n/a ({results['PASSIVE'].get('reason')})",
               baseline=(f"{fmt_rate(unset, ' samples/s')} unset" if unset else f"n/a ({results[None].get('reason')})"),
               ratio=fmt_ratio(passive / unset if passive and unset else None),
               notes=f"B={batch}, {torch.get_num_threads()} intra-op threads, load average {load:.1f} on "
                     f"{os.cpu_count()} hardware threads",
               numbers={"passive_sps": passive or float("nan"), "unset_sps": unset or float("nan"), "load": load})


def _child(argv: list[str]) -> None:
    """``--measure FAMILY PRESET BATCH [--compile] --threads N --budget S --phases …``: one JSON line
    per finished phase (the protocol of :func:`measure_in_child`)."""
    import argparse

    parser = argparse.ArgumentParser(description="throughput of one preset in a child process (measure_in_child)")
    parser.add_argument("--measure", nargs=3, metavar=("FAMILY", "PRESET", "BATCH"), required=True)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--budget", type=float, default=3.0)
    parser.add_argument("--phases", nargs="+", choices=PHASES, default=list(PHASES))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    family, preset, batch = args.measure
    measure(family, preset, int(batch), compile=args.compile, budget_s=args.budget, phases=tuple(args.phases),
            report=lambda out: print(json.dumps(out), flush=True))


if __name__ == "__main__":
    _child(sys.argv[1:])

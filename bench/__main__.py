"""`make bench` / ``python -m bench [options] [key=value …]``: run every benchmark, print one markdown
table and write it to ``bench/results/bench.md`` (raw numbers in ``bench.json``).

    python -m bench                       # the quick configuration, compiling the configured presets
    python -m bench --compile none        # eager only
    python -m bench --skip tictac --skip compile  # a section left out
    python -m bench --data-root /path/to/human36m pose2d.batch_size=64

The header gives the command, the date, the machine's thread count, torch's intra-op threads (left
as configured: torch's default unless OMP_NUM_THREADS says otherwise) and the load average, because
every number is only comparable with numbers of the same run on the same machine.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import torch

from bench import Row, error_reason, fmt_ratio, fmt_seconds, goal_text, markdown_table
from config import load_config

logger = logging.getLogger("bench")
RESULTS_DIR = Path(__file__).resolve().parent / "results"
COMPILE_CHOICES = ("configured", "all", "none")
SECTIONS = ("tictac", "models", "data", "demo", "compile")


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Run every benchmark and print one markdown "
                                     "table (also written to bench/results/bench.md). Extra key=value arguments "
                                     "override the configuration.")
    parser.add_argument("--compile", choices=COMPILE_CHOICES, default="configured",
                        help="presets to torch.compile: those the configuration trains (default), all, none")
    parser.add_argument("--compile-limit", type=float, default=150.0, metavar="S",
                        help="wall-clock limit of one preset's compile + timing (default 150 s)")
    parser.add_argument("--time-limit", type=float, default=540.0, metavar="S",
                        help="compiles run last, limited so that the bench ends within this time (default 540 s)")
    parser.add_argument("--tac-n", type=int, default=1024, help="TAC batch (default 1024)")
    parser.add_argument("--tic-batch", type=int, default=16, help="TIC batch (default 16; the loop costs B Jacobians)")
    parser.add_argument("--data-root", type=Path, default=None,
                        help="data root for the loader benchmarks (default: data.root, else a generated tiny root)")
    parser.add_argument("--skip", action="append", default=[], choices=SECTIONS, metavar="SECTION",
                        help=f"leave a section out (repeatable): {', '.join(SECTIONS)}")
    parser.add_argument("--config", default=None, help="configuration file (default configuration.yml)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help=f"output folder (default {RESULTS_DIR})")
    args, overrides = parser.parse_known_args(argv)
    unknown = [o for o in overrides if "=" not in o]
    if unknown:
        parser.error(f"unrecognised argument(s) {' '.join(unknown)}; options are listed above, "
                     f"configuration overrides are key=value")
    return args, overrides


def machine_lines(argv: list[str]) -> list[str]:
    cpu = next((ln.split(":", 1)[1].strip() for ln in _read_lines("/proc/cpuinfo") if ln.startswith("model name")),
               platform.processor() or "unknown CPU")
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    env = ", ".join(f"{k}={os.environ[k]}" for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS")
                    if k in os.environ) or "no OMP_*/MKL_* thread variables set"
    lines = [
        f"command: `{' '.join(['python -m bench', *argv])}`",
        f"date: {datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"machine: {os.cpu_count()} hardware threads ({cpu}); torch {torch.__version__}, "
        f"{torch.get_num_threads()} intra-op / {torch.get_num_interop_threads()} inter-op threads; {env}",
        f"load average at start: {load[0]:.2f} (1 min), {load[1]:.2f} (5 min) on {os.cpu_count()} hardware threads",
    ]
    if "OMP_WAIT_POLICY" not in os.environ and load[0] > (os.cpu_count() or 1):
        lines.append("WARNING: more runnable threads than cores and OMP_WAIT_POLICY unset: torch's intra-op threads "
                     "spin at every barrier, so timings swing by 10× or more between runs (see the threads row); "
                     "run on an idle machine or with OMP_WAIT_POLICY=PASSIVE for stable numbers")
    return lines


def _read_lines(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []


def tictac_rows(tac_n: int, tic_batch: int) -> list[Row]:
    """TAC and TIC speed-ups from bench.bench_tictac (TIC through ViTPose tiny's decoder: 8×6×64 features,
    two 32-filter deconvolutions, 32×24 heatmaps)."""
    from bench.bench_tictac import bench_tac, bench_tic

    rows = []
    for group, goal, run in (
            ("TAC", 100.0, lambda: bench_tac(n=tac_n, repeats=3)),
            ("TIC", 10.0, lambda: bench_tic(batch=tic_batch, channels=64, feature_size=(8, 6),
                                            deconv_filters=(32, 32), repeats=3))):
        result = run()
        rows.append(Row(group=group, benchmark=result["name"], measured=fmt_seconds(result["fast_s"]),
                        baseline=f"{fmt_seconds(result['baseline_s'])} loop", ratio=fmt_ratio(result["ratio"]),
                        goal=goal_text(result["ratio"], goal),
                        notes=f"max abs diff {result['max_abs_diff']:.1e} "
                              f"(largest value {result['max_abs_reference']:.2g})",
                        numbers={k: v for k, v in result.items() if isinstance(v, float)}))
    return rows


def configured_presets(cfg) -> list[tuple[str, str]]:
    """(family, preset) of the models the configuration trains, the fastest to compile first."""
    return [("GraphMLP", cfg.lifting.preset), ("ViTPose", cfg.pose2d.vitpose_preset),
            ("SkateFormer", cfg.action.preset), ("Hourglass", cfg.pose2d.hourglass_preset)]


def model_rows(cfg) -> tuple[list[Row], dict[tuple[str, str], list[Row]]]:
    """Eager rows of every CPU preset, the OpenMP wait-policy row and the official sizes; and the two
    rows of each CPU preset by (family, preset), for the data section's rates and the compiled numbers."""
    from bench.bench_models import (CPU_PRESETS, OFFICIAL_PRESETS, batch_size, bench_channels_last, bench_model,
                                    bench_optimizer, bench_size, bench_wait_policy)

    rows, pairs = [], {}
    for family, preset in CPU_PRESETS:
        logger.info("model %s %s", family, preset)
        pairs[family, preset] = bench_model(family, preset, batch_size(cfg, family))
        rows += pairs[family, preset]
    logger.info("fused optimiser step")
    rows += [bench_optimizer(family, preset, batch_size(cfg, family)) for family, preset in configured_presets(cfg)]
    logger.info("channels-last memory")
    rows.append(bench_channels_last("Hourglass", cfg.pose2d.hourglass_preset, batch_size(cfg, "Hourglass")))
    logger.info("OpenMP wait policy")
    rows.append(bench_wait_policy("ViTPose", cfg.pose2d.vitpose_preset, batch_size(cfg, "ViTPose")))
    rows += [bench_size(family, preset) for family, preset in OFFICIAL_PRESETS]
    return rows, pairs


def compile_models(cfg, args, pairs: dict[tuple[str, str], list[Row]], deadline: float) -> None:
    """Fill the compiled column: the configured presets (or all, or none), the fastest to compile first
    (GraphMLP ≈ 0.5–2 min cold on 2 cores, ViTPose ≈ 1.5 min, SkateFormer and Hourglass longer), each
    limited to --compile-limit and to what is left before `deadline` (time.perf_counter())."""
    from bench.bench_models import batch_size, measure_in_child, set_compiled

    configured = configured_presets(cfg)
    order = {"configured": configured, "all": configured + list(pairs), "none": []}[args.compile]
    candidates = [key for key in dict.fromkeys(order) if key in pairs]
    for key, rows in pairs.items():
        if key not in candidates:
            set_compiled(rows, {}, "--compile none" if args.compile == "none" else
                         "not a configured preset; --compile all")
    for family, preset in candidates:
        left = deadline - time.perf_counter()
        if left < 30:
            set_compiled(pairs[family, preset], {}, f"bench time limit {args.time_limit:g} s reached")
            continue
        logger.info("compile %s %s (limit %.0f s)", family, preset, min(args.compile_limit, left))
        set_compiled(pairs[family, preset], *measure_in_child(family, preset, batch_size(cfg, family),
                                                              min(args.compile_limit, left), compile=True))


def data_rows(cfg, args, pairs: dict[tuple[str, str], list[Row]]) -> list[Row]:
    """Loader rows, each next to the eager training rate of the model it feeds (None if not measured)."""
    from bench.bench_data import (bench_action_loader, bench_crop_loader, bench_lifting_loader, find_or_make_root,
                                  load_train_data)

    def rate(family: str, preset: str) -> float | None:
        return pairs[family, preset][1].numbers["eager_sps"] if (family, preset) in pairs else None

    with tempfile.TemporaryDirectory(prefix="bench_data_") as tmp:
        root, where = find_or_make_root(cfg, Path(tmp), args.data_root)
        logger.info("data: %s", where)
        data, subjects = load_train_data(cfg, root)
        rows = []
        for name, run in (
                ("crops", lambda: bench_crop_loader(cfg, data, subjects, rate("ViTPose", cfg.pose2d.vitpose_preset))),
                ("lifting", lambda: bench_lifting_loader(cfg, data, subjects, rate("GraphMLP", cfg.lifting.preset))),
                ("action", lambda: bench_action_loader(cfg, data, subjects, rate("SkateFormer", cfg.action.preset)))):
            logger.info("data: %s", name)
            rows += run()
        source = root.name if where == str(root) else "tiny synthetic"
        for row in rows:
            row.notes += f"; data {source}, subjects {'/'.join(subjects)}"
    return rows


def main(argv: list[str]) -> None:
    args, overrides = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    os.environ.setdefault("TQDM_DISABLE", "1")
    cfg = load_config(overrides, args.config)
    started = time.perf_counter()
    header = machine_lines(argv)
    rows: list[Row] = []
    pairs: dict[tuple[str, str], list[Row]] = {}  # the two rows of each CPU preset

    def models() -> list[Row]:
        section_rows, measured = model_rows(cfg)
        pairs.update(measured)
        return section_rows

    def demo() -> list[Row]:
        from bench.bench_demo import bench_demo

        return bench_demo(cfg.run_dir)

    def compiled() -> list[Row]:  # fills rows already in the table
        compile_models(cfg, args, pairs, deadline=started + args.time_limit)
        return []

    sections = {"tictac": lambda: tictac_rows(args.tac_n, args.tic_batch), "models": models,
                "data": lambda: data_rows(cfg, args, pairs), "demo": demo, "compile": compiled}
    section_s: dict[str, float] = {}
    for name, run in sections.items():
        if name in args.skip or (name == "compile" and not pairs):
            continue
        t0 = time.perf_counter()
        logger.info("section %s", name)
        try:
            rows += run()
        except Exception as error:  # one failing section must not hide the others' numbers
            logger.exception("section %s failed", name)
            rows.append(Row(group=name, benchmark=f"{name} section", measured=f"n/a ({error_reason(error)})"))
        section_s[name] = time.perf_counter() - t0
        logger.info("section %s: %.0f s", name, section_s[name])
    total = time.perf_counter() - started
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    footer = [f"total bench time: {total:.0f} s (goal < 600 s): "
              + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in section_s.items()),
              f"load average at end: {load[0]:.2f} (1 min)"]
    text = "\n".join(["# Benchmarks", "", *[f"- {line}" for line in header], "", markdown_table(rows), "",
                      *[f"- {line}" for line in footer], ""])
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.md").write_text(text)
    (args.out / "bench.json").write_text(json.dumps(
        {"header": header, "footer": footer, "total_s": total,
         "rows": [{**dict(zip(("group", "benchmark", "measured", "baseline", "ratio", "goal", "notes"), r.cells())),
                   "numbers": r.numbers} for r in rows]}, indent=1, default=float))
    logger.info("wrote %s", args.out / "bench.md")


if __name__ == "__main__":
    main(sys.argv[1:])

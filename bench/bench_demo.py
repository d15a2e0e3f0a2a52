"""`make demo` seconds per stage, read from the study's ``<run_dir>/timings.json`` ({stage: seconds},
written by study.py after each stage it ran); nothing is run here."""
from __future__ import annotations

import json
from pathlib import Path

from bench import Row, fmt_seconds


def bench_demo(run_dir: Path) -> list[Row]:
    """One row per stage (seconds, share of the demo) and a total row; one "run make demo first" row
    when the study has not written its timings yet."""
    path = Path(run_dir) / "timings.json"
    if not path.is_file():
        return [Row(group="demo", benchmark="make demo, seconds per stage", measured="n/a (run make demo first)",
                    notes=f"no {path}")]
    try:
        timings = {str(k): float(v) for k, v in json.loads(path.read_text()).items()}
    except (ValueError, TypeError, AttributeError) as error:
        return [Row(group="demo", benchmark="make demo, seconds per stage",
                    measured=f"n/a ({path.name} unreadable: {type(error).__name__}; run make demo again)")]
    total = sum(timings.values())
    rows = [Row(group="demo", benchmark=f"make demo stage: {stage}", measured=fmt_seconds(seconds),
                baseline=f"{fmt_seconds(total)} whole demo",
                ratio=f"{100 * seconds / total:.0f} %" if total > 0 else "n/a", numbers={"seconds": seconds})
            for stage, seconds in timings.items()]
    rows.append(Row(group="demo", benchmark="make demo: all stages timed so far", measured=fmt_seconds(total),
                    notes=f"{len(timings)} stages from {path} (stages skipped as up to date keep their last time)",
                    numbers={"seconds": total}))
    return rows

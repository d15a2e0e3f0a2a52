"""An independent reader of report.md and compare/tables.md: every table cell is checked against the
metrics file it came from, in the column its header claims, and its † mark against the baseline rule.

It does not reuse the writers' code: the column → metric mapping, the file paths and the rule are
written out here again, so a writer that swaps two columns, reads the wrong file or marks the wrong
cell disagrees with this reader (tests/test_report.py, tests/test_study.py).

A report over seeds (`python study.py seeds=0,1,2`, header "seeds 0, 1, 2 (") is read against every
seed's run folder <run>/seed<k>/: a cell shows "mean ± sd" with numpy's mean and sd (ddof = 1) of the
seeds' numbers, or the number alone when it is the same in every seed; † follows the rule on the means.
"""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np

MARK = "†"
BASELINE_ROW = re.compile(r"\(baseline\)$")

POSE2D_COLUMNS = {"PCK@0.05": "pck05", "PCK@0.1": "pck10", "2D error (px)": "error_px", "AP50 (study)": "ap50"}
PROB_COLUMNS = {"2D error (px)": ("error_px", 1), "TAC (px)": ("tac_px", 1), "LL": ("ll", 1),
                "1σ (%)": ("cover1", 100), "2σ (%)": ("cover2", 100)}
MC_COLUMNS = {"K": lambda m: m["monte_carlo"]["num_samples"],
              "3D spread (mm)": lambda m: m["monte_carlo"]["mean_spread_mm"],
              "corr(spread, error)": lambda m: m["monte_carlo"]["spread_error_correlation"],
              "P1 of mean 2D (mm)": lambda m: m["mpjpe_mm"],
              "P1 of mean of samples (mm)": lambda m: m["monte_carlo"]["mpjpe_of_sample_mean_mm"],
              "3D ECE": lambda m: m["monte_carlo"]["calibration"]["ece"],
              "ECE if calibrated": lambda m: m["monte_carlo"]["calibration"]["ece_calibrated"]}
NO_COVARIANCE = {"MSE"}
NUM = r"([\d.]+(?: ± [\d.]+)?)"  # a printed number, or mean ± sd over seeds
# the name a table shows → the source tag of the run folders (config-safe spelling)
SOURCE_TAGS = {"GroundTruth+Σ": "GroundTruthCov"}
NOISE_ROW = re.compile(r"(\d+(?:\.\d+)?(?:e-\d+)?)( \(matched: .*\))?")


def tag(name: str) -> str:
    return SOURCE_TAGS.get(name, name)


class Counter:
    def __init__(self):
        self.cells = 0
        self.marked = 0


def sections(markdown: str) -> dict[str, list[str]]:
    """'## heading' → its lines (a heading that repeats gets a numbered key)."""
    out, current = {}, None
    for line in markdown.splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            while current in out:
                current += " (again)"
            out[current] = []
        elif current is not None:
            out[current].append(line)
    return out


def tables(lines: list[str]) -> list[tuple[list[str], list[list[str]]]]:
    """Markdown tables in `lines`: (header, rows of cells)."""
    found, block = [], []
    for line in lines + [""]:
        if line.startswith("|"):
            block.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif block:
            found.append((block[0], block[2:]))
            block = []
    return found


def one_table(lines: list[str], heading: str):
    found = tables(lines)
    assert len(found) == 1, f"section {heading!r}: expected one table, found {len(found)}"
    return found[0]


def check_number(text: str, expected, where: str, counter: Counter, mark: bool | None = None) -> None:
    """`text` (a printed cell, maybe with †) shows `expected` to its printed precision; with `mark`, the
    † is there exactly when the rule says so. `expected` an array (one value per seed, not all equal): the
    text is "mean ± sd" with numpy's mean and sd (ddof = 1)."""
    has_mark = text.endswith(MARK)
    value = text.rstrip(MARK).strip()
    if isinstance(expected, np.ndarray) and (expected == expected[0]).all():  # equal in every seed: printed alone
        expected = float(expected[0])
    if isinstance(expected, np.ndarray):
        assert " ± " in value, f"{where}: {text!r} should be mean ± sd over the seeds {expected.tolist()}"
        value, sd = value.split(" ± ")
        check_number(sd, float(np.std(expected, ddof=1)), f"{where} (sd over the seeds)", Counter())
        expected = float(np.mean(expected))
    assert re.fullmatch(r"-?\d+(\.\d+)?", value), f"{where}: {text!r} is not a number"
    digits = len(value.split(".")[1]) if "." in value else 0
    assert abs(float(value) - expected) <= 0.5 * 10 ** -digits + 1e-9, \
        f"{where}: the table shows {value}, the metrics file says {expected}"
    if mark is not None:
        assert has_mark == mark, f"{where}: {text!r} should{'' if mark else ' not'} carry {MARK} " \
                                 f"(value {expected})"
    else:
        assert not has_mark, f"{where}: {text!r} carries {MARK} but has no baseline"
    counter.cells += 1
    counter.marked += has_mark


# --- the rule, written out again --------------------------------------------------------------

def error_mark(value, baseline):
    return baseline is not None and np.mean(value) > np.mean(baseline) / 2


def accuracy_mark(value, baseline):
    return baseline is not None and np.mean(value) < 2 * np.mean(baseline)


def fraction_mark(value, baseline):
    value, baseline = (None if v is None else np.mean(v) for v in (value, baseline))
    return baseline is not None and (baseline >= 1 or 1 - value > (1 - baseline) / 2)


def strongest_of(values, lower_is_better: bool):
    """The strongest baseline by its mean over the seeds."""
    return (min if lower_is_better else max)(values, key=np.mean)


# --- seeds: one path in every seed's run folder, numbers combined ----------------------------------

class SeedPaths:
    """A path in each seed's run folder (what `run / "2d" / …` gives when `run` is one)."""

    def __init__(self, paths):
        self.paths = [Path(p) for p in paths]

    def __truediv__(self, part):
        return SeedPaths(p / part for p in self.paths)

    def is_file(self) -> bool:
        return all(p.is_file() for p in self.paths)

    def glob(self, pattern: str) -> list:
        return [self / p.name for p in sorted(self.paths[0].glob(pattern))]

    def __str__(self) -> str:
        return " and ".join(map(str, self.paths))


def over_seeds(items: list):
    """Per-seed copies of a value → the value when equal in every seed; numbers (or numeric text) that differ →
    an array of the per-seed numbers; dicts and equal-length lists item by item; other text → the first seed's."""
    first = items[0]
    if all(x == first or (isinstance(x, float) and x != x and first != first) for x in items[1:]):  # NaN == NaN
        return first
    if all(isinstance(x, dict) for x in items):
        return {k: over_seeds([x[k] for x in items]) for k in first}
    if all(isinstance(x, list) for x in items) and len({len(x) for x in items}) == 1:
        return [over_seeds(list(c)) for c in zip(*items)]
    try:
        return np.array([float(x) for x in items])
    except (TypeError, ValueError):  # text that differs between seeds (a checkpoint path): no cell shows it
        return first


def num(value):
    """A number from a CSV cell (text) or an array over seeds."""
    return value if isinstance(value, np.ndarray) else float(value)


def read_json(path) -> dict:
    if isinstance(path, SeedPaths):
        return over_seeds([json.loads(p.read_text()) for p in path.paths])
    return json.loads(path.read_text())


def report_seeds(report: str) -> list[int] | None:
    """The seeds of a report over seeds (its header says "seeds 0, 1, 2 ("), else None."""
    found = re.search(r"^Profile .*?, seeds ((?:\d+, )*\d+) \(", report, re.M)
    return [int(k) for k in found.group(1).split(", ")] if found else None


# --- files ---------------------------------------------------------------------------------------

def last_csv_row(path: Path) -> dict:
    if isinstance(path, SeedPaths):
        return over_seeds([last_csv_row(p) for p in path.paths])
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    assert rows, f"{path} is empty"
    return rows[-1]


def eval_path(run: Path, model: str, train: str | list[str], evaluated: str) -> Path:
    """`train` a list: one training tag per seed (the noise level matched to each seed's own σ)."""
    if isinstance(train, list):
        return SeedPaths(p / "eval" / f"{model}_{t}_on_{evaluated}" / "metrics.json" for p, t in zip(run.paths, train))
    return run / "eval" / f"{model}_{train}_on_{evaluated}" / "metrics.json"


def noise_train(run, label: str) -> str | list[str]:
    """The training tag of a noise-table row ('0', '0.01', '0.0432 (matched: …)'); in a report over seeds the
    matched row ('0.0432 ± 0.0007 (matched: …)') is each seed's own level, as its compare/tables.json records it."""
    level, matched = NOISE_ROW.fullmatch(re.sub(r" ± \S+", "", label, count=1)).groups()
    if matched and isinstance(run, SeedPaths):
        return [f"GroundTruth_noise{read_json(p / 'compare' / 'tables.json')['noise']['matched']['noise_std']:g}"
                for p in run.paths]
    return "GroundTruth" if float(level) == 0 else f"GroundTruth_noise{level}"


def eval_metrics(run: Path, model: str, train: str, evaluated: str) -> dict:
    return read_json(eval_path(run, model, train, evaluated))


def empty_cell(cell: str, path: Path, where: str) -> bool:
    """An empty cell ('–' or '– / –') stands for a missing evaluation, and only for one."""
    empty = set(cell.replace(" / ", "")) == {"–"}
    assert empty == (not path.is_file()), \
        f"{where}: cell {cell!r} but {path} {'exists' if path.is_file() else 'is missing'}"
    return empty


# --- per table -------------------------------------------------------------------------------------

def check_pose2d(run: Path, lines: list[str], baselines: dict, counter: Counter) -> None:
    header, rows = one_table(lines, "2D estimators")
    boxes = baselines.get("pose2d", {}).get("boxes", {})
    strongest = {k: strongest_of([b[k] for b in boxes.values()], k == "error_px") for k in POSE2D_COLUMNS.values()} \
        if boxes else {}
    for row in rows:
        name = row[0]
        if BASELINE_ROW.search(name):
            box = re.fullmatch(r"mean pose in the (\w+) box \(baseline\)", name).group(1)
            values = boxes[box]
            error = values["error_px"]
        else:
            r = last_csv_row(run / "2d" / name / "metrics.csv")
            values = {k: num(r[f"val_{k}"]) for k in POSE2D_COLUMNS.values()}
            error = values["error_px"]
            assert row[header.index("epochs")] == r["epoch"], f"2D {name}: epochs"
        for column, key in POSE2D_COLUMNS.items():
            mark = None
            if not BASELINE_ROW.search(name) and strongest:
                rule = error_mark if key == "error_px" else fraction_mark
                mark = rule(values[key], strongest[key])
            check_number(row[header.index(column)], values[key], f"2D {name} {column}", counter, mark)
        for box, b in boxes.items():
            column = f"error ÷ {box}-box baseline"
            check_number(row[header.index(column)], error / b["error_px"], f"2D {name} {column}", counter)
    assert [h for h in header if h not in POSE2D_COLUMNS and not h.startswith("error ÷")] == ["model", "epochs"]


def check_prob(run: Path, lines: list[str], baselines: dict, counter: Counter) -> None:
    header, rows = one_table(lines, "Probabilistic 2D estimator")
    (prob_run,) = list((run / "2d").glob("Probabilistic_*"))
    r = last_csv_row(prob_run / "metrics.csv")
    boxes = baselines.get("pose2d", {}).get("boxes", {})
    best_error = strongest_of([b["error_px"] for b in boxes.values()], True) if boxes else None
    assert len(rows) == sum(k.endswith("_tac_px") for k in r), "one row per covariance method"
    for row in rows:
        method = row[0]
        for column, (key, scale) in PROB_COLUMNS.items():
            cell = row[header.index(column)]
            if method in NO_COVARIANCE and key in ("ll", "cover1", "cover2"):
                assert cell == "n/a", f"{method} {column}: Σ = I is arbitrary, expected n/a, got {cell!r}"
                continue
            value = scale * num(r[f"val_{method}_{key}"])
            mark = error_mark(value, best_error) if key == "error_px" and best_error is not None else None
            check_number(cell, value, f"TIC-TAC {method} {column}", counter, mark)


def check_lifting_matrix(run: Path, heading: str, lines: list[str], baselines: dict, counter: Counter,
                         noise: bool) -> None:
    header, rows = one_table(lines, heading)
    lift = baselines.get("lifting")
    for row in rows:
        for j, evaluated in enumerate(header[1:], start=1):
            cell = row[j]
            if BASELINE_ROW.search(row[0]):
                expected, marks = (lift["mpjpe_mm"], lift["p_mpjpe_mm"]), (None, None)
            else:
                train = tag(row[0]) if not noise else noise_train(run, row[0])
                if empty_cell(cell, eval_path(run, "GraphMLP", train, tag(evaluated)),
                              f"{heading} [{row[0]}, {evaluated}]"):
                    continue
                m = eval_metrics(run, "GraphMLP", train, tag(evaluated))
                expected = (m["mpjpe_mm"], m["p_mpjpe_mm"])
                marks = (error_mark(expected[0], lift["mpjpe_mm"]), error_mark(expected[1], lift["p_mpjpe_mm"])) \
                    if lift else (None, None)
            p1, p2 = cell.split(" / ")
            check_number(p1, expected[0], f"{heading} [{row[0]}, {evaluated}] P1", counter, marks[0])
            check_number(p2, expected[1], f"{heading} [{row[0]}, {evaluated}] P2", counter, marks[1])


def check_monte_carlo(run: Path, lines: list[str], baselines: dict, counter: Counter) -> None:
    header, rows = one_table(lines, "Monte-Carlo")
    lift = baselines.get("lifting")
    assert set(header[1:]) == set(MC_COLUMNS), f"Monte-Carlo columns {header}"
    for row in rows:
        m = eval_metrics(run, "GraphMLP", tag(row[0]), "Probabilistic")
        for column, read in MC_COLUMNS.items():
            value = read(m)
            mark = error_mark(value, lift["mpjpe_mm"]) if column.startswith("P1") and lift else None
            check_number(row[header.index(column)], value, f"Monte-Carlo {row[0]} {column}", counter, mark)


def heading_splits(heading: str) -> list[str]:
    """The action protocols a table shows, from its heading ("top-1 % X-sub / X-view" or "top-1 % X-sub")."""
    splits = [s for s, name in (("xsub", "X-sub"), ("xview", "X-view")) if name in heading]
    assert splits, f"{heading}: names no action protocol"
    return splits


def split_cell(cell: str, count: int, where: str) -> list[str]:
    """The `count` numbers of a "a / b" cell (one per protocol, or P1 / P2)."""
    parts = cell.split(" / ")
    assert len(parts) == count, f"{where}: {cell!r} is not {count} number(s) separated by ' / '"
    return parts


def check_action(run: Path, heading: str, lines: list[str], baselines: dict, counter: Counter) -> None:
    header, rows = one_table(lines, heading)
    splits = heading_splits(heading)
    act = baselines.get("action", {})
    if act:
        chance = re.search(r"chance ([\d.]+) %", heading).group(1)
        check_number(chance, 100 * act["xsub"]["chance"], "action chance", counter)
    bar = {s: 100 * strongest_of([b["chance"], b["majority_top1"]], False) for s, b in act.items()}
    for row in rows:
        for j, evaluated in enumerate(header[1:], start=1):
            if not BASELINE_ROW.search(row[0]) and empty_cell(
                    row[j], eval_path(run, "SkateFormer", tag(row[0]), tag(evaluated)), f"action [{row[0]}, {evaluated}]"):
                continue
            cells = split_cell(row[j], len(splits), f"action [{row[0]}, {evaluated}]")
            if BASELINE_ROW.search(row[0]):
                expected, marks = [100 * act[s]["majority_top1"] for s in splits], [None] * len(splits)
            else:
                m = eval_metrics(run, "SkateFormer", tag(row[0]), tag(evaluated))
                expected = [100 * m[s]["top1"] for s in splits]
                marks = [accuracy_mark(e, bar.get(s)) if act else None for e, s in zip(expected, splits)]
            for cell, value, mark, s in zip(cells, expected, marks, splits):
                check_number(cell, value, f"action [{row[0]}, {evaluated}] {s}", counter, mark)


def check_ways(run: Path, heading: str, lines: list[str], baselines: dict, counter: Counter) -> None:
    """The ways of using the Probabilistic source (compare.uncertainty_comparison): rows (way, trained on, input),
    each cell read back from eval/<model>_<trained on>[_<input>]_on_<evaluated>/metrics.json."""
    header, rows = one_table(lines, heading)
    lifting = "lifting" in heading
    model = "GraphMLP" if lifting else "SkateFormer"
    lift, act = baselines.get("lifting"), baselines.get("action", {})
    bar = {s: 100 * strongest_of([b["chance"], b["majority_top1"]], False) for s, b in act.items()}
    assert header[:3] == ["way", "trained on", "input"], f"{heading}: columns {header}"
    for row in rows:
        for j, evaluated in enumerate(header[3:], start=3):
            where = f"{heading} [{row[0]}, {evaluated}]"
            if BASELINE_ROW.search(row[0]):
                expected = ((lift["mpjpe_mm"], lift["p_mpjpe_mm"]) if lifting else
                            [100 * act[s]["majority_top1"] for s in heading_splits(heading)])
                marks = [None] * len(expected)
            else:
                train = tag(row[1]) + ("" if row[2] == "xy" else "_" + row[2].replace("+", "_"))
                path = eval_path(run, model, train, tag(evaluated))
                if empty_cell(row[j], path, where):
                    continue
                m = read_json(path)
                if lifting:
                    expected = (m["mpjpe_mm"], m["p_mpjpe_mm"])
                    marks = (error_mark(expected[0], lift["mpjpe_mm"]), error_mark(expected[1], lift["p_mpjpe_mm"])) \
                        if lift else (None, None)
                else:
                    splits = heading_splits(heading)
                    expected = [100 * m[s]["top1"] for s in splits]
                    marks = [accuracy_mark(e, bar.get(s)) if act else None for e, s in zip(expected, splits)]
            for cell, value, mark in zip(split_cell(row[j], len(expected), where), expected, marks):
                check_number(cell, value, where, counter, mark)


def check_baselines_table(lines: list[str], baselines: dict, counter: Counter) -> None:
    header, rows = one_table(lines, "Trivial baselines")
    for name, _, value in rows:
        if name.startswith("2D") and value.startswith("not computed: "):
            box = re.search(r"in the (\w+) box", name).group(1)
            assert box not in baselines["pose2d"]["boxes"] and value[14:] == baselines["pose2d"]["box_error"]
        elif name.startswith("2D"):
            box = re.search(r"in the (\w+) box", name).group(1)
            b = baselines["pose2d"]["boxes"][box]
            numbers = re.fullmatch(rf"PCK@0.05 {NUM}, PCK@0.1 {NUM}, error {NUM} px, AP50 {NUM}", value)
            for text, key in zip(numbers.groups(), ("pck05", "pck10", "error_px", "ap50")):
                check_number(text, b[key], f"baselines {name} {key}", counter)
        elif name.startswith("lifting"):
            numbers = re.fullmatch(rf"P1 {NUM} mm, P2 {NUM} mm \(action-wise\)", value)
            check_number(numbers.group(1), baselines["lifting"]["mpjpe_mm"], "baselines lifting P1", counter)
            check_number(numbers.group(2), baselines["lifting"]["p_mpjpe_mm"], "baselines lifting P2", counter)
        else:
            split = "xsub" if "X-sub" in name else "xview"
            numbers = re.fullmatch(rf"{NUM} % / {NUM} %", value)
            check_number(numbers.group(1), 100 * baselines["action"][split]["chance"], f"{name} chance", counter)
            check_number(numbers.group(2), 100 * baselines["action"][split]["majority_top1"], f"{name} majority",
                         counter)


# the per-joint table's columns, written out again: column → Human3.6M joint names (left and right averaged)
JOINT_COLUMNS = {"hip (root)": ["Hip"], "hips": ["LHip", "RHip"], "knees": ["LKnee", "RKnee"],
                 "feet": ["LFoot", "RFoot"], "spine": ["Spine"], "thorax": ["Thorax"], "neck/nose": ["Neck/Nose"],
                 "head": ["Head"], "shoulders": ["LShoulder", "RShoulder"], "elbows": ["LElbow", "RElbow"],
                 "wrists": ["LWrist", "RWrist"]}


def check_joints2d(run: Path, lines: list[str], counter: Counter) -> None:
    """The per-joint 2D table against compare/joints2d.json: each column the mean of its joints (all 17 for 'all
    joints'), † against the baseline row's same column; then, where the file has them, the left/right inversion
    table below it: each sided column the mean of its two joints in %, unmarked."""
    found = tables(lines)
    data = read_json(run / "compare" / "joints2d.json")
    inversions = data.get("inversions", {})
    assert len(found) == (2 if inversions.get("sources") else 1), f"2D error per joint: {len(found)} tables"
    header, rows = found[0]
    assert header == ["2D source", *JOINT_COLUMNS, "all joints"], header
    names = data["joints"]

    def columns(values: list, groups: dict = JOINT_COLUMNS) -> list:
        """Each group's mean, then the mean over every joint of the groups (all 17 for JOINT_COLUMNS)."""
        by_name = dict(zip(names, values))
        members = [n for joints in groups.values() for n in joints]
        return [sum(by_name[n] for n in joints) / len(joints) for joints in groups.values()] \
            + [sum(by_name[n] for n in members) / len(members)]
    baseline = columns(data["baseline"])
    assert [r[0] for r in rows] == [*data["sources"], "mean pose in the keypoints box (baseline)"]
    for row in rows:
        values = baseline if BASELINE_ROW.search(row[0]) else columns(data["sources"][row[0]])
        for column, value, base, cell in zip(header[1:], values, baseline, row[1:]):
            mark = None if BASELINE_ROW.search(row[0]) else error_mark(value, base)
            check_number(cell, value, f"2D per joint {row[0]} {column}", counter, mark)
    if len(found) == 2:  # left/right inversions, % of frames, the sided columns only, unmarked
        header, rows = found[1]
        sided = {k: v for k, v in JOINT_COLUMNS.items() if len(v) == 2}
        assert header == ["2D source", *sided, "all sided joints"], header
        assert [r[0] for r in rows] == [*inversions["sources"], "mean pose in the keypoints box (baseline)"]
        for row in rows:
            values = inversions["baseline"] if BASELINE_ROW.search(row[0]) else inversions["sources"][row[0]]
            for column, value, cell in zip(header[1:], columns(values, sided), row[1:]):
                assert not cell.endswith(MARK), f"2D inversions {row[0]} {column}: {cell!r} is marked"
                check_number(cell, 100 * value, f"2D inversions {row[0]} {column}", counter)


def check_compare_sections(run: Path, parts: dict, baselines: dict, counter: Counter) -> set[str]:
    """Check the sections of compare/tables.md found in `parts`; returns the headings checked."""
    done = set()
    for heading, lines in parts.items():
        if heading.startswith("2D→3D lifting"):
            check_lifting_matrix(run, heading, lines, baselines, counter, noise=False)
        elif heading.startswith("Noise baseline"):
            check_lifting_matrix(run, heading, lines, baselines, counter, noise=True)
        elif heading.startswith("Probabilistic 2D through the lifter"):
            check_monte_carlo(run, lines, baselines, counter)
        elif heading.startswith("Action recognition"):
            check_action(run, heading, lines, baselines, counter)
        elif heading.startswith("Trivial baselines"):
            check_baselines_table(lines, baselines, counter)
        elif heading.startswith("Ways of using the Probabilistic source"):
            check_ways(run, heading, lines, baselines, counter)
        else:
            continue
        done.add(heading)
    return done


def check_summed_timings(run: Path, seeds: list[int], timings: dict) -> None:
    """timings.json of a study over seeds: each stage that the seeds ran, the sum of their seconds."""
    per_seed = [json.loads((run / f"seed{k}" / "timings.json").read_text()) for k in seeds]
    for stage in dict.fromkeys(k for t in per_seed for k in t):
        total = sum(t.get(stage, 0.0) for t in per_seed)
        assert abs(timings[stage] - total) <= 0.05 + 1e-9, f"time {stage}: {timings[stage]} s, the seeds sum to {total}"


def check_run(run: Path) -> Counter:
    """Check every table of run/report.md and run/compare/tables.md; returns the counts of checked cells.
    A report over seeds is checked against every seed's run folder <run>/seed<k>/."""
    run = Path(run)
    report = (run / "report.md").read_text()
    seeds = report_seeds(report)
    files = SeedPaths(run / f"seed{k}" for k in seeds) if seeds else run
    baselines_path = files / "compare" / "baselines.json"
    baselines = read_json(baselines_path) if baselines_path.is_file() else {}
    counter = Counter()
    compare_parts = sections((run / "compare" / "tables.md").read_text())
    assert check_compare_sections(files, compare_parts, baselines, counter) == set(compare_parts), \
        "compare/tables.md has a section this checker does not know"
    report_parts = sections(report)
    done = check_compare_sections(files, report_parts, baselines, counter)
    for heading, lines in report_parts.items():
        if heading.startswith("2D estimators"):
            check_pose2d(files, lines, baselines, counter)
        elif heading.startswith("Probabilistic 2D estimator"):
            check_prob(files, lines, baselines, counter)
        elif heading.startswith("2D error per joint"):
            check_joints2d(files, lines, counter)
        elif heading.startswith("Time per stage"):
            timings = json.loads((run / "timings.json").read_text())
            if seeds:
                check_summed_timings(run, seeds, timings)
            header, rows = one_table(lines, heading)
            assert [r[0] for r in rows] == list(timings)
            for stage, seconds in rows:
                check_number(seconds, timings[stage], f"time {stage}", counter)
        elif heading not in done:
            assert not tables(lines), f"report.md section {heading!r} has a table this checker does not know"
            continue
        done.add(heading)
    return counter

"""utils/study/joints2d.py: the per-joint 2D error of the prediction artifacts on hand-made sequences with known
answers, and its report table (a joint at baseline level is marked)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dataloader.h36m import JOINT_NAMES, NUM_CAMERAS, NUM_JOINTS
from utils.study import joints2d

FRAMES = {("S1", "Walking"): 4, ("S9", "Walking"): 5, ("S9", "Eating"): 3, ("S11", "Eating"): 2}
WRISTS = [JOINT_NAMES.index("LWrist"), JOINT_NAMES.index("RWrist")]


def ground_truth(camera: int, frames: int) -> np.ndarray:
    """(N, J, 2) px: joint j of frame f at (200 + 5 f + 3 j, 400 + 30 c + 7 j)."""
    f, j = np.meshgrid(np.arange(frames), np.arange(NUM_JOINTS), indexing="ij")
    return np.stack([200.0 + 5 * f + 3 * j, 400.0 + 30 * camera + 7 * j + 0 * f], -1)


@pytest.fixture
def data():
    from dataloader.reader import Human36M

    positions_3d, positions_2d = {}, {}
    for (subject, sequence), n in FRAMES.items():
        positions_3d.setdefault(subject, {})[sequence] = np.zeros((n, 32, 3), np.float32)
        positions_2d.setdefault(subject, {})[sequence] = [ground_truth(c, n) for c in range(NUM_CAMERAS)]
    return Human36M(root=Path("/nonexistent"), frame_template="{subject}/{sequence}.{camera}/{frame}.jpg",
                    positions_3d=positions_3d, positions_2d=positions_2d)


def write(cfg, source: str, offsets: dict[int, float], drop_last: bool = False, swap: tuple[int, int] | None = None
          ) -> None:
    """`source`'s artifact for every sequence and camera: the ground truth, joint j moved right by offsets[j] px,
    the joints of `swap` exchanged."""
    from utils.artifact import save_artifact
    from utils.engine import layout

    table = {s: sorted(q for (s2, q) in FRAMES if s2 == s) for s in sorted({s for s, _ in FRAMES})}
    rows, keypoints = [], []
    for (subject, sequence), n in FRAMES.items():
        for cam in range(NUM_CAMERAS):
            for f in range(n - (1 if drop_last and subject == "S9" else 0)):
                rows.append([int(subject[1:]), table[subject].index(sequence), cam, f])
                kp = ground_truth(cam, n)[f].copy()
                for j, dx in offsets.items():
                    kp[j, 0] += dx
                if swap:
                    kp[list(swap)] = kp[list(swap[::-1])]
                keypoints.append(kp)
    save_artifact(layout.prediction_dir(cfg, source), keypoints=np.array(keypoints), index=np.array(rows),
                  meta={"source": source, "sequences": table})


def test_each_artifact_is_scored_per_joint_on_every_test_frame(data, tmp_path, caplog):
    from config import load_config

    cfg = load_config(["profile=test", f"output_root={tmp_path}", "experiment=j", "data.test_subjects=[S9, S11]",
                       "data.cameras=[0, 2]"])
    write(cfg, "Hourglass", {WRISTS[0]: 6.0, WRISTS[1]: 2.0, 0: 1.0})
    write(cfg, "ViTPose", {}, drop_last=True)        # a frame short: left out, said in the log
    mean_pose = np.zeros((NUM_JOINTS, 2))              # every joint at the box centre
    with caplog.at_level("WARNING"):
        out = joints2d.joint_errors(cfg, data, mean_pose)
    assert out["frames"] == (5 + 3 + 2) * 2 and out["cameras"] == [0, 2]
    assert list(out["sources"]) == ["Hourglass"] and "no per-joint 2D errors for ViTPose" in caplog.text
    expected = np.zeros(NUM_JOINTS)
    expected[[WRISTS[0], WRISTS[1], 0]] = 6.0, 2.0, 1.0
    np.testing.assert_allclose(out["sources"]["Hourglass"], expected, atol=1e-3)
    # the baseline: each joint's distance from the centre of the frame's tight joint box (the same in every frame:
    # the poses only translate), left and right joints kept apart
    gt = ground_truth(0, 1)[0]
    centre = (gt.min(0) + gt.max(0)) / 2
    np.testing.assert_allclose(out["baseline"], np.linalg.norm(gt - centre, axis=-1), atol=1e-3)
    grouped = joints2d.grouped(out["sources"]["Hourglass"])
    columns = [name for name, _ in joints2d.JOINT_GROUPS]
    assert grouped[columns.index("wrists")] == pytest.approx(4.0, abs=1e-3)
    assert grouped[columns.index("hip (root)")] == pytest.approx(1.0, abs=1e-3)
    assert grouped[-1] == pytest.approx(9.0 / NUM_JOINTS, abs=1e-3)


def test_the_report_table_marks_a_joint_at_baseline_level():
    baseline = [10.0] * NUM_JOINTS
    good = [2.0] * NUM_JOINTS
    good[WRISTS[0]] = good[WRISTS[1]] = 9.0  # wrists 0.9× the baseline: not a finding
    lines = joints2d.joints2d_section({"frames": 7, "cameras": [0], "joints": list(JOINT_NAMES),
                                        "baseline": baseline, "sources": {"Hourglass": good}})
    row = next(line for line in "\n".join(lines).splitlines() if line.startswith("| Hourglass"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:] == ["2.0"] * 10 + ["9.0†", f"{(15 * 2 + 18) / 17:.1f}"]
    assert any("not a finding" in line for line in lines)
    assert joints2d.joints2d_section(None) == [] and joints2d.joints2d_section({"sources": {}}) == []


FEET = [JOINT_NAMES.index("LFoot"), JOINT_NAMES.index("RFoot")]


def test_swapped_feet_are_inversions_in_every_frame_and_get_their_own_table(data, tmp_path):
    from config import load_config

    cfg = load_config(["profile=test", f"output_root={tmp_path}", "experiment=j", "data.test_subjects=[S9, S11]",
                       "data.cameras=[0, 2]"])
    write(cfg, "ViTPose", {}, swap=tuple(FEET))  # the feet 23 px apart in a 112 px box: each a miss nearer the other
    out = joints2d.joint_errors(cfg, data, np.zeros((NUM_JOINTS, 2)))
    expected = np.zeros(NUM_JOINTS)
    expected[FEET] = 1.0
    np.testing.assert_allclose(out["inversions"]["sources"]["ViTPose"], expected)
    assert len(out["inversions"]["baseline"]) == NUM_JOINTS
    lines = "\n".join(joints2d.joints2d_section(out)).splitlines()
    header = next(line for line in lines if line.startswith("| 2D source | hips"))
    assert [c.strip() for c in header.strip("|").split("|")] == [
        "2D source", "hips", "knees", "feet", "shoulders", "elbows", "wrists", "all sided joints"]
    row = next(line for line in lines if line.startswith("| ViTPose") and "100.0" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:] == ["0.0", "0.0", "100.0", "0.0", "0.0", "0.0", f"{100 * 2 / 12:.1f}"]

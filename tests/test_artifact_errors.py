"""Bad inputs caught by utils/artifact.py (2D prediction artifacts: missing, malformed, mismatched):
one line naming the file or key, nothing written (the harness: tests/bad_inputs.py)."""
from __future__ import annotations

import shutil

import pytest

from tests.bad_inputs import (ART, EVAL, G, Bad, check_case, _artifact, _drop_test_frame, _edit_artifact_array,
                              _nan_keypoint, _non_spd_probabilistic, _truncate, _write)

CASES = {
    "missing_artifact": Bad("get3Dprediction.py", G + ("model_2D_dataset=Hourglass",),
                            ("predictions/Hourglass not found",
                             "python get2Dpredictions.py model_2D_prediction=Hourglass")),
    "artifact_wrong_joint_count": Bad("get3Dprediction.py", G + EVAL,
                                      ("keypoints_2d.npy has shape (96, 16, 2)", "(N, 17, 2)"),
                                      _edit_artifact_array("keypoints_2d.npy", lambda x: x[:, :16])),
    "artifact_nan": Bad("get3Dprediction.py", G + EVAL,
                        ("keypoints_2d.npy: non-finite coordinates at frame 7 (S1 'Walking' camera 0 frame 7)",),
                        _edit_artifact_array("keypoints_2d.npy", _nan_keypoint)),
    "artifact_non_spd_covariance": Bad(
        "get3Dprediction.py", G + ("model_2D_dataset=Probabilistic", "data.cameras=[0]"),
        ("covariance_2d.npy: covariance not positive-definite at frame 11 (S1 'Walking' camera 0 frame 11)",),
        _non_spd_probabilistic),
    "artifact_without_covariance": Bad(
        "get3Dprediction.py", G + ("model_2D_dataset=Probabilistic", "data.cameras=[0]"),
        ("predictions/Probabilistic has no covariance", "python get2Dpredictions_prob_pose.py"),
        lambda root, out: shutil.copytree(_artifact(out), _artifact(out, "Probabilistic"))),
    "artifact_frame_missing": Bad("get3Dprediction.py", G + EVAL,
                                  ("S9 'Walking' camera 0 does not match the dataset (first missing frame 5)",
                                   "python get2Dpredictions.py model_2D_prediction=ViTPose"), _drop_test_frame),
    "artifact_other_cameras": Bad("get3Dprediction.py", G + ("model_2D_dataset=ViTPose",),
                                  ("no predictions for S9 'Walking' camera 1", "python get2Dpredictions.py")),
    "artifact_truncated_npy": Bad("get3Dprediction.py", G + EVAL, ("keypoints_2d.npy is corrupt or truncated",),
                                  _truncate(lambda out: _artifact(out) / "keypoints_2d.npy")),
    "artifact_bad_meta": Bad("get3Dprediction.py", G + EVAL, ("meta.json is not valid JSON",),
                             _write(lambda out: _artifact(out) / "meta.json", b"{\"schema_version\": 1,")),
    "missing_artifact_main": pytest.param(
        Bad("main.py", G + ("model_2D_prediction=Hourglass",),
            ("predictions/Hourglass not found", "python get2Dpredictions.py model_2D_prediction=Hourglass"))),
    "artifact_checked_before_training": pytest.param(
        Bad("main.py", G + ART, ("keypoints_2d.npy: non-finite coordinates",),
            _edit_artifact_array("keypoints_2d.npy", _nan_keypoint))),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_input_fails_with_one_line_and_leaves_outputs(case, tiny_root, outputs, tmp_path):
    check_case(case, tiny_root, outputs, tmp_path)

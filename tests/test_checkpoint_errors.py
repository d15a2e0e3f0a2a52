"""Bad inputs caught by utils/engine/checkpoint.py (missing, corrupt or foreign checkpoints):
one line naming the file or key, nothing written (the harness: tests/bad_inputs.py)."""
from __future__ import annotations

import pytest

from tests.bad_inputs import (G, V, Bad, check_case, _graphmlp_as_vitpose, _state_dict_only, _truncate,
                              _vitpose_as_graphmlp, _write)
from tests.helpers import graphmlp_dir, vitpose_dir

CASES = {
    "missing_2d_checkpoint": Bad("get2Dpredictions.py", ("model_2D_prediction=Hourglass",),
                                 ("2d/Hourglass/model.pt", "python train2D.py model_2D_prediction=Hourglass")),
    "missing_prob_checkpoint": Bad("get2Dpredictions_prob_pose.py", (),
                                   ("Probabilistic_ViTPose/last.pt", "python train2D_prob_pose.py")),
    "truncated_checkpoint": Bad("get2Dpredictions.py", V, ("2d/ViTPose/model.pt is corrupt or truncated",),
                                _truncate(lambda out: vitpose_dir(out) / "model.pt")),
    "garbage_checkpoint": Bad("get3Dprediction.py", G, ("GraphMLP_GroundTruth/last.pt is corrupt or truncated",),
                              _write(lambda out: graphmlp_dir(out) / "last.pt", b"\x00not a checkpoint")),
    "checkpoint_of_another_model": Bad("get2Dpredictions.py", V,
                                       ("2d/ViTPose/model.pt holds a GraphMLP model, expected ViTPose",),
                                       _graphmlp_as_vitpose),
    "bare_state_dict": Bad("get2Dpredictions.py", V, ("2d/ViTPose/model.pt is not a checkpoint of this framework",),
                           _state_dict_only),
    "missing_downstream_checkpoint": Bad("get3Dprediction.py", G + ("model_2D_prediction=ViTPose",),
                                         ("GraphMLP_ViTPose/last.pt not found",
                                          "python main.py model_3D_prediction=GraphMLP model_2D_prediction=ViTPose")),
    "resume_from_another_model": pytest.param(
        Bad("main.py", G + ("resume=true",), ("GraphMLP_GroundTruth/last.pt holds a ViTPose model, expected GraphMLP",),
            _vitpose_as_graphmlp)),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_input_fails_with_one_line_and_leaves_outputs(case, tiny_root, outputs, tmp_path):
    check_case(case, tiny_root, outputs, tmp_path)

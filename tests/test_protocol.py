"""Evaluation protocol: which checkpoint the prediction stages load, and how the lifter's root joint
is handled (as the official GraphMLP, ``Vegetebird/GraphMLP: main.py``)."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import torch

from dataloader.h36m import NUM_JOINTS, ROOT
from dataloader.lifting_dataset import flip_3d
from dataloader.loaders import make_loader
from utils.engine import layout
from utils.engine.checkpoint import load_checkpoint
from utils.stages.downstream import lifting_train_step, predict_3d
from utils.metrics import mpjpe
from utils.engine.training import Trainer, fit, recompute_batchnorm


# --- no model selection on the test subjects ---------------------------------------------------

def _worsening_trainer(run_dir: Path, epochs: int, resume: bool = False) -> Trainer:
    """A linear regression whose reported validation error is best at epoch 2 and worst at the last epoch."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    x = torch.randn(16, 3)
    data = [(x[i], x[i].sum(0, keepdim=True)) for i in range(16)]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    validation_error = iter([3.0, 1.0, 5.0, 6.0])  # one value per validation pass (one batch each)

    def step(m, batch):
        return torch.nn.functional.mse_loss(m(batch[0]), batch[1]), {}, len(batch[0])

    return Trainer(model=model, model_name="ViTPose", model_kwargs={}, optimizer=optimizer,
                   train_loader=make_loader(data, batch_size=4, shuffle=True, num_workers=0, seed=0),
                   val_loader=make_loader(data, batch_size=16, shuffle=False, num_workers=0, seed=0),
                   train_step=step, eval_step=lambda m, b: ({"error_px": next(validation_error)}, len(b[0])),
                   run_dir=run_dir, config={}, epochs=epochs, device=torch.device("cpu"), resume=resume)


def test_prediction_loads_the_last_epoch_even_when_validation_got_worse(tmp_path, monkeypatch):
    monkeypatch.setattr("utils.engine.training.plot_curves", lambda *a, **k: None)  # matplotlib is not under test
    cfg = SimpleNamespace(run_dir=tmp_path, data=SimpleNamespace(dataset="h36m"))
    run_dir = layout.pose2d_dir(cfg, "ViTPose")
    trainer = _worsening_trainer(run_dir, epochs=3)
    metrics = fit(trainer)
    assert metrics["val_error_px"] == 5.0  # the last epoch validates worst of all

    predicted = load_checkpoint(layout.pose2d_checkpoint(cfg, "ViTPose"), expect_model="ViTPose")  # get2Dpredictions.py
    last = load_checkpoint(run_dir / "last.pt")
    assert predicted["epoch"] == last["epoch"] == 3
    final = trainer.model.state_dict()
    for key, value in final.items():
        assert torch.equal(predicted["model"][key], value), key
        assert torch.equal(last["model"][key], value), key
    assert "best_metric" not in last  # nothing in a checkpoint is chosen by (or records) a test-subject metric
    assert predicted["optimizer"] is None and last["optimizer"] is not None  # model.pt: weights only


def test_a_resumed_run_keeps_model_pt_at_the_last_epoch(tmp_path, monkeypatch):
    monkeypatch.setattr("utils.engine.training.plot_curves", lambda *a, **k: None)
    fit(_worsening_trainer(tmp_path, epochs=2))
    trainer = _worsening_trainer(tmp_path, epochs=3, resume=True)
    fit(trainer)
    weights = load_checkpoint(tmp_path / "model.pt")
    assert weights["epoch"] == 3
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(weights["model"][key], value), key


# --- precise BatchNorm before validation (action.precise_bn_batches) ---------------------------------

def _batchnorm_trainer(run_dir: Path, precise_bn_batches: int = 0) -> Trainer:
    """Linear(2, 3) → BatchNorm1d(3) on 16 fixed samples, batches of 4 in a fixed order."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))
    x = torch.randn(16, 2) * torch.tensor([1.0, 5.0]) + 3.0
    data = [(x[i], x[i, :1] * 2) for i in range(16)]

    def step(m, batch):
        return torch.nn.functional.mse_loss(m(batch[0])[:, :1], batch[1]), {}, len(batch[0])

    return Trainer(model=model, model_name="SkateFormer", model_kwargs={},
                   optimizer=torch.optim.SGD(model.parameters(), lr=0.05),
                   train_loader=make_loader(data, batch_size=4, shuffle=False, num_workers=0, seed=0),
                   val_loader=make_loader(data, batch_size=16, shuffle=False, num_workers=0, seed=0),
                   train_step=step, eval_step=lambda m, b: ({"loss": step(m, b)[0].item()}, len(b[0])),
                   run_dir=run_dir, config={}, epochs=1, device=torch.device("cpu"),
                   precise_bn_batches=precise_bn_batches)


def _batch_statistics(trainer: Trainer, batches: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The plain mean over the first `batches` training batches of each batch's mean and unbiased variance of the
    BatchNorm input, at the current weights (the known answer)."""
    linear = trainer.model[0]
    means, variances = [], []
    with torch.no_grad():
        for _, (inputs, _) in zip(range(batches), trainer.train_loader):
            h = linear(inputs)
            means.append(h.mean(0))
            variances.append(h.var(0, unbiased=True))
    return torch.stack(means).mean(0), torch.stack(variances).mean(0)


def test_recompute_batchnorm_averages_the_batches_at_the_current_weights(tmp_path):
    trainer = _batchnorm_trainer(tmp_path)
    norm = trainer.model[1]
    norm.running_mean.fill_(100.0)  # a stale momentum average, far from the data
    norm.running_var.fill_(1e-4)
    weights = {k: v.clone() for k, v in trainer.model.state_dict().items() if "running" not in k and "num_batches" not in k}
    trainer.model.eval()

    assert recompute_batchnorm(trainer, batches=3) == 3
    mean, var = _batch_statistics(trainer, 3)
    torch.testing.assert_close(norm.running_mean, mean)
    torch.testing.assert_close(norm.running_var, var)
    assert norm.momentum == 0.1 and not trainer.model.training  # momentum and mode restored
    for key, value in weights.items():  # no parameter moves
        assert torch.equal(trainer.model.state_dict()[key], value), key
    assert recompute_batchnorm(trainer, batches=99) == 4  # at most the loader's 4 batches
    plain = _batchnorm_trainer(tmp_path)
    plain.model = torch.nn.Linear(2, 3)
    assert recompute_batchnorm(plain, batches=3) == 0  # nothing to recompute without a BatchNorm layer


def test_fit_validates_and_saves_the_recomputed_statistics(tmp_path, monkeypatch):
    monkeypatch.setattr("utils.engine.training.plot_curves", lambda *a, **k: None)
    trainer = _batchnorm_trainer(tmp_path / "precise", precise_bn_batches=2)
    fit(trainer)
    mean, var = _batch_statistics(trainer, 2)  # the final weights: recomputed after the epoch's last step
    saved = load_checkpoint(tmp_path / "precise" / "model.pt")["model"]
    torch.testing.assert_close(saved["1.running_mean"], mean)
    torch.testing.assert_close(saved["1.running_var"], var)
    # off (the official momentum average): the statistics of the training steps, not those
    off = _batchnorm_trainer(tmp_path / "off")
    fit(off)
    saved_off = load_checkpoint(tmp_path / "off" / "model.pt")["model"]
    assert not torch.allclose(saved_off["1.running_mean"], mean)


# --- root handling of the lifter ----------------------------------------------------------------

class _FixedLifter(torch.nn.Module):
    """Predicts `pose` (J, 3) for every window: (B, T, J, 2) → (B, 1, J, 3), like GraphMLP's centre frame."""

    def __init__(self, pose: torch.Tensor):
        super().__init__()
        self.pose = pose

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.pose.expand(inputs.shape[0], 1, -1, -1)


def _pose_with_a_wrong_root() -> torch.Tensor:
    pose = torch.randn(NUM_JOINTS, 3, generator=torch.Generator().manual_seed(0)) * 0.2
    pose[ROOT] = torch.tensor([0.3, -0.2, 0.1])  # the lifter's root is 37 cm off the (zero) target root
    return pose


def test_predict_3d_zeroes_the_root_and_keeps_the_other_joints():
    """Official GraphMLP test: ``output_3D[:, :, root] = 0``; subtracting the predicted root from every
    joint (translating the whole pose by 37 cm here) would move every other joint."""
    pose = _pose_with_a_wrong_root()
    inputs = torch.zeros(2, 1, NUM_JOINTS, 2)
    expected = pose.clone()
    expected[ROOT] = 0
    assert torch.equal(predict_3d(_FixedLifter(pose), inputs, test_flip=False), expected.expand(2, -1, -1))

    # with flip test-time averaging: the mean of the two predictions, then the root set to 0
    flipped = torch.randn(NUM_JOINTS, 3, generator=torch.Generator().manual_seed(1))

    class _TwoViews(torch.nn.Module):  # one pose for the image (x = 1), another for its mirror (x = −1)
        def forward(self, x):
            return (flipped if x[0, 0, 0, 0] < 0 else pose).expand(len(x), 1, -1, -1)

    expected = 0.5 * (pose + flip_3d(flipped))
    expected[ROOT] = 0
    averaged = predict_3d(_TwoViews(), torch.ones(1, 1, NUM_JOINTS, 2), test_flip=True)[0]
    torch.testing.assert_close(averaged, expected)


def test_lifting_loss_compares_every_joint_with_the_zero_root_target():
    """Official GraphMLP train: the target's root is 0 and the loss is the MPJPE over all joints, the
    predicted root included (nothing is subtracted from the prediction)."""
    pose = _pose_with_a_wrong_root()
    target = torch.zeros(1, NUM_JOINTS, 3)
    loss, metrics, n = lifting_train_step(_FixedLifter(pose), {"inputs": torch.zeros(1, 1, NUM_JOINTS, 2),
                                                               "target": target})
    torch.testing.assert_close(loss, mpjpe(pose[None], target))
    assert n == 1 and abs(metrics["mpjpe_mm"] - loss.item() * 1000) < 1e-6

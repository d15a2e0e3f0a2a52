"""Stage 1b: train the probabilistic 2D estimator (TIC-TAC) on backbone `model_prob_pose`.

Every method of `prob.methods` (MSE, Diagonal, BetaNLL, NLL, Faithful, TIC) is trained side by
side from the same initial network on the same batches, each with its own covariance head, as
TIC-TAC does. The loss of each is its covariance loss on the soft-argmax mean plus the heatmap MSE
(targets with peak `prob.heatmap_peak`). Per epoch, on the test subjects and in full-frame pixels:
2D error of the mean, TAC, log-likelihood and 1σ/2σ calibration of each method.
No MSE warm-up by default: the official TIC-TAC code has none (`prob.mse_warmup_epochs` adds one).
`prob.init` starts every method from trained weights instead of random ones: `pose2d` takes this run's
own deterministic model of the backbone (train2D.py), so the Probabilistic source differs from it only
in the covariance training (the original study pre-trained its estimator on MPII/COCO likewise); a path names
a model.pt of ours or an official file (utils/stages/init_weights.py), whose joint layer then starts at random.

    python train2D_prob_pose.py model_prob_pose=ViTPose
"""
from __future__ import annotations

import logging

import torch

from config import PROB_METHODS, to_dict
from dataloader.loaders import make_loader
from dataloader.reader import load_human36m
from utils.stages import estimator, init_weights, prob_estimator
from utils.engine import layout, runtime
from utils.engine.cli import run, setup
from utils.engine.training import Trainer, fit

logger = logging.getLogger("train2D_prob_pose")


def main(argv):
    cfg, _, device = setup(argv)
    c = cfg.prob
    if c.export_method not in c.methods:
        raise SystemExit(f"prob.export_method={c.export_method} is not among prob.methods={c.methods}; add it")
    backbone = cfg.model_prob_pose
    run_dir = layout.prob_dir(cfg, backbone)
    data = load_human36m(cfg.data_root, cfg.data.frame_template,
                         subjects=list(cfg.data.train_subjects) + list(cfg.data.test_subjects),
                         actions=cfg.data.actions or None)
    pose_model, pose_kwargs = estimator.build_estimator(cfg, backbone)
    init = layout.prob_init_checkpoint(cfg)
    if init is not None:  # every method starts from the same pose network (prob.init): ours or an official file
        report = init_weights.initialise(pose_model, pose_kwargs, init, key="prob.init")
        if report.kind == "ours":  # a deterministic heatmap layer of peak 1 → TIC-TAC's peak; a fresh one learns it
            estimator.scale_heatmap_output(pose_model, c.heatmap_peak)
            logger.info("prob.init: heatmaps scaled ×%g to prob.heatmap_peak", c.heatmap_peak)
    train_set, val_set = estimator.build_datasets(cfg, data, pose_model, cfg.seed, cfg.model_prob_pose)
    kwargs = {"pose": pose_kwargs, "methods": [m for m in PROB_METHODS if m in c.methods],
              "heads": prob_estimator.model_kwargs(cfg)}
    model = prob_estimator.build_method_set(pose_model, kwargs["methods"], kwargs["heads"], cfg.prob.tic_chunk_size)
    model = estimator.place(model, backbone, cfg, device)  # the Hourglass in channels-last, as train2D.py
    train_loader = make_loader(train_set, batch_size=c.batch_size, shuffle=True, num_workers=cfg.data.num_workers,
                               seed=cfg.seed, drop_last=True, device=device)
    optimizer = torch.optim.Adam(model.parameters(), lr=c.lr, fused=True)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(c.epochs, 1), eta_min=c.lr * 0.01)
    epoch_ref = [0]

    def on_epoch_start(epoch):
        epoch_ref[0] = epoch
        train_set.set_epoch(epoch)

    trainer = Trainer(
        model=runtime.wrap_ddp(model, device), model_name=f"Probabilistic_{backbone}", model_kwargs=kwargs,
        optimizer=optimizer, scheduler=scheduler, train_loader=train_loader,
        val_loader=make_loader(val_set, batch_size=c.batch_size, shuffle=False, num_workers=cfg.data.num_workers,
                               seed=cfg.seed, device=device),
        train_step=prob_estimator.make_train_step(c.heatmap_peak, epoch_ref),
        eval_step=prob_estimator.make_eval_step(cfg.predict.flip_test),
        run_dir=run_dir, config=to_dict(cfg), epochs=c.epochs, device=device, amp=cfg.runtime.amp,
        resume=cfg.resume, desc=f"TIC-TAC[{backbone}]", on_epoch_start=on_epoch_start,
    )
    metrics = fit(trainer)
    if metrics:
        for m in kwargs["methods"]:
            logger.info("%-9s 2D error %.2f px, TAC %.2f px, LL %.1f, 1σ %.1f %%, 2σ %.1f %%", m,
                        metrics[f"val_{m}_error_px"], metrics[f"val_{m}_tac_px"], metrics[f"val_{m}_ll"],
                        100 * metrics[f"val_{m}_cover1"], 100 * metrics[f"val_{m}_cover2"])


if __name__ == "__main__":
    run(main, reads=("model_prob_pose", "resume", "data", "runtime", "pose2d", "prob", "predict"))

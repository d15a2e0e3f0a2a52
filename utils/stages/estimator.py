"""The 2D estimator stages (train2D.py, get2Dpredictions.py and their probabilistic twins):
model and optimiser builders, heatmap loss, flip test, decoding back to full-frame pixels, metrics.
"""
from __future__ import annotations

import math
import re

import numpy as np
import torch

from dataloader.crop_dataset import FrameCropDataset, PersonCropDataset, normalise_images
from dataloader.h36m import FLIP_PERMUTATION, NUM_JOINTS
from dataloader.loaders import make_loader
from dataloader.reader import DataError
from models.pose2d import build_pose_model
from models.registry import family, pose2d_preset, pose2d_setting
from utils.codecs.crop import apply_affine, invert_affine
from utils.codecs.heatmap import decode_heatmaps, flip_heatmaps
from utils.metrics import ap50_study, mean_joint_error_2d, pck


def preset_of(cfg, name: str) -> str:
    return pose2d_preset(cfg, name)


def build_datasets(cfg, data, model, seed, name: str):
    """Training and validation crops of the 2D model family `name` (its heatmap σ, `sigma_of`);
    refuses a missing frame image up front, naming the first."""
    keys = data.sequences(subjects=list(cfg.data.train_subjects) + list(cfg.data.test_subjects))
    missing = data.check_frames(keys, cfg.data.cameras, cfg.data.frame_stride)
    if missing is not None:
        raise DataError(f"frame image {missing} is missing; extract the frames (python -m dataloader extract) "
                        f"or regenerate the synthetic data (make data)")
    c = cfg.pose2d
    common = dict(input_size=model.input_size, heatmap_size=model.heatmap_size, sigma=sigma_of(cfg, name), margin=c.box_margin,
                  reduced_decode=cfg.data.reduced_decode, box_source=cfg.data.box_source,
                  detections=cfg.detections_path)
    augment = dict(augment=True, rotation=c.rotation, scale=c.scale, flip_prob=c.flip_prob, max_items=c.max_train_items,
                   seed=seed)
    if cfg.data.dataset == "h36m":
        train_set = FrameCropDataset(data, data.sequences(subjects=cfg.data.train_subjects), cfg.data.cameras,
                                     cfg.data.frame_stride, **augment, **common)
    else:  # pre-training on still images; validation stays on the Human3.6M test subjects
        train_set = PersonCropDataset(person_samples(cfg), model.input_size, model.heatmap_size,
                                      sigma=common["sigma"], margin=c.box_margin, **augment)
    val_set = FrameCropDataset(data, data.sequences(subjects=cfg.data.test_subjects), cfg.data.cameras,
                               cfg.data.frame_stride, max_items=c.max_val_items, seed=seed, **common)
    return train_set, val_set


def person_samples(cfg):
    """The annotated people of `data.dataset` (coco | mpii | lsp), mapped to the 17 Human3.6M joints; a training set
    without one is refused."""
    from config import resolve_path
    from dataloader.coco_mpii import PersonSamples, read_coco, read_lsp, read_mpii

    d = cfg.data
    if d.dataset == "coco":
        samples = read_coco(resolve_path(d.coco_annotations), resolve_path(d.coco_images))
        source = d.coco_annotations
    elif d.dataset == "lsp":  # LSP and LSPET side by side (TIC-TAC's merge, without MPII)
        if not d.lsp_roots:
            raise DataError("data.lsp_roots is empty; list the LSP / LSPET folders, e.g. data.lsp_roots=[data/lsp]")
        samples = PersonSamples.concatenate([read_lsp(resolve_path(root)) for root in d.lsp_roots])
        source = ", ".join(d.lsp_roots)
    else:
        samples = read_mpii(resolve_path(d.mpii_annotations), resolve_path(d.mpii_images))
        source = d.mpii_annotations
    if len(samples) == 0:
        key = "lsp_roots" if d.dataset == "lsp" else f"{d.dataset}_annotations"
        raise DataError(f"{source} holds no person with a visible joint; check data.{key}")
    return samples


def prediction_subjects(cfg) -> list[str]:
    """The subjects the prediction stages run on: `predict.subjects`, or every training and test subject."""
    return list(cfg.predict.subjects) or list(cfg.data.train_subjects) + list(cfg.data.test_subjects)


def build_estimator(cfg, name: str):
    """(model, kwargs) of the 2D model `name` with the configured preset (kwargs rebuild it)."""
    preset, presets = preset_of(cfg, name), family(name).preset_table()
    if preset not in presets:
        raise SystemExit(f"pose2d.{family(name).preset_key}={preset!r} is not a {name} preset; valid: {', '.join(presets)}")
    model = build_pose_model(name, preset, NUM_JOINTS)
    return model, {"name": name, "preset": preset, "num_joints": NUM_JOINTS}


# All-convolutional families: in channels-last memory their convolutions run faster (the Hourglass tiny128's CPU training
# step 0.16 against 0.24 s at batch 16; on CUDA the layout tensor cores use). A ViT's few convolutions gain nothing.
CHANNELS_LAST_FAMILIES = ("Hourglass",)


def place(model: torch.nn.Module, name: str, cfg, device) -> torch.nn.Module:
    """`model` (2D family `name`) on `device`, in channels-last memory where `runtime.channels_last` is set and the
    family is convolutional (``CHANNELS_LAST_FAMILIES``). Inputs may stay NCHW-contiguous: a convolution with
    channels-last weights gives channels-last outputs. Same numbers up to float rounding; state dicts load either way."""
    model = model.to(device)
    if cfg.runtime.channels_last and name in CHANNELS_LAST_FAMILIES:
        model = model.to(memory_format=torch.channels_last)
    return model


def rebuild_estimator(kwargs: dict):
    return build_pose_model(kwargs["name"], kwargs["preset"], kwargs["num_joints"])


def load_pose_weights(model, kwargs: dict, path) -> None:
    """Load one of our 2D checkpoints (model.pt / last.pt of train2D.py) into `model`, built from `kwargs`;
    a checkpoint of another family or preset is refused with one line naming both."""
    from utils.engine.checkpoint import CheckpointError, load_checkpoint

    ckpt = load_checkpoint(path, expect_model=kwargs["name"])
    theirs = ckpt.get("model_kwargs", {})
    if theirs.get("preset") != kwargs["preset"] or theirs.get("num_joints") != kwargs["num_joints"]:
        raise CheckpointError(f"checkpoint {path} holds {kwargs['name']} preset {theirs.get('preset')!r} with "
                              f"{theirs.get('num_joints')} joints, the model is preset {kwargs['preset']!r} with "
                              f"{kwargs['num_joints']}; train it with the same preset or change prob.init")
    model.load_state_dict(ckpt["model"])


def layer_id(name: str, depth: int) -> int:
    """ViTPose layer-wise decay id: 0 for embeddings, i+1 for block i, depth+1 for the rest."""
    if name.startswith(("backbone.pos_embed", "backbone.patch_embed", "backbone.cls_token")):
        return 0
    match = re.match(r"backbone\.blocks\.(\d+)\.", name)
    return int(match.group(1)) + 1 if match else depth + 1


def param_groups(model: torch.nn.Module, weight_decay: float, layer_decay: float = 1.0, depth: int = 0) -> list[dict]:
    """No weight decay on biases, norms and pos_embed; optional layer-wise lr decay (ViTPose recipe)."""
    groups: dict[tuple, dict] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        no_decay = p.ndim == 1 or name.endswith(".bias") or "pos_embed" in name
        scale = layer_decay ** (depth + 1 - layer_id(name, depth)) if layer_decay != 1.0 else 1.0
        key = (no_decay, scale)
        groups.setdefault(key, {"params": [], "weight_decay": 0.0 if no_decay else weight_decay, "lr_scale": scale})
        groups[key]["params"].append(p)
    return list(groups.values())


def build_optimizer(cfg, model, name: str):
    """AdamW or Adam (:func:`optimizer_of`) over `model`, the 2D model `name`, at its peak lr and weight decay
    (:func:`lr_of`, :func:`weight_decay_of`), with layer-wise lr decay for a ViT backbone (`pose2d.layer_decay`).
    Adam's weight decay is the coupled L2 of torch.optim.Adam."""
    lr = lr_of(cfg, name)
    depth = len(getattr(getattr(model, "backbone", None), "blocks", []))
    groups = param_groups(model, weight_decay_of(cfg, name), cfg.pose2d.layer_decay, depth)
    for g in groups:
        g["lr"] = lr * g["lr_scale"]
    if optimizer_of(cfg, name) == "adam":
        return torch.optim.Adam(groups, lr=lr, fused=True)
    return torch.optim.AdamW(groups, lr=lr, fused=True)


@torch.no_grad()
def scale_heatmap_output(model, factor: float) -> None:
    """Multiply the heatmaps `model` outputs by `factor`, exactly, by scaling its output convolution(s).

    A deterministic 2D model is trained on Gaussian targets of peak 1; TIC-TAC's targets peak at
    `prob.heatmap_peak` (30) so that the soft-argmax mean (softmax with β = 1) is sharp. Loaded as is, the
    soft-argmax of peak-1 heatmaps is nearly flat and pulls every joint to the crop centre, and the covariance
    training then overwrites the localisation before the peaks grow (measured: 36–38 px after 3–10 epochs from a
    20.9 px ViTPose; 22.5 px after 3 epochs when scaled first). ViTPose: ``keypoint_head.final_layer``. Stacked
    Hourglass: every stack's ``outs`` conv, with the 1×1 ``merge_preds`` that feed a stack's heatmaps into the next
    divided by `factor`, so the next stack's input is unchanged.
    """
    head = getattr(model, "keypoint_head", None)
    if head is not None and hasattr(head, "final_layer"):
        head.final_layer.weight.mul_(factor)
        if head.final_layer.bias is not None:
            head.final_layer.bias.mul_(factor)
        return
    if hasattr(model, "outs") and hasattr(model, "merge_preds"):
        for out in model.outs:
            out.conv.weight.mul_(factor)
            out.conv.bias.mul_(factor)
        for merge in model.merge_preds:
            merge.conv.conv.weight.div_(factor)
        return
    raise TypeError(f"scale_heatmap_output: no known heatmap output layer in {type(model).__name__}")


def warmup_step_lambda(warmup_iters: int, steps_per_epoch: int, lr_steps: list[int], schedule: str = "step",
                       epochs: int = 0):
    """Per-iteration factor: linear warm-up from 0.001 over `warmup_iters`, then either ×0.1 at each epoch in
    `lr_steps` (``step``, the ViTPose/mmpose recipe) or a cosine from 1 to 0.01 over `epochs` epochs
    (``cosine``: a short run ends with a small lr, so its validation curve flattens without tuned step epochs)."""
    total = max(epochs * steps_per_epoch, 1)

    def factor(step: int) -> float:
        warm = 0.001 + (1 - 0.001) * min(step / warmup_iters, 1.0) if warmup_iters else 1.0
        if schedule == "cosine":
            return warm * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(step / total, 1.0))))
        return warm * 0.1 ** sum(step >= e * steps_per_epoch for e in lr_steps)
    return factor


def epochs_of(cfg, name: str) -> int:
    """Training epochs of the 2D model `name`: `pose2d.hourglass_epochs` for the Hourglass when set, else `pose2d.epochs`."""
    return pose2d_setting(cfg, name, "epochs")


def lr_of(cfg, name: str) -> float:
    """Peak learning rate of the 2D model `name`: `pose2d.hourglass_lr` for the Hourglass when set, else `pose2d.lr`."""
    return pose2d_setting(cfg, name, "lr")


def weight_decay_of(cfg, name: str) -> float:
    """Weight decay of the 2D model `name`: a family with its own key reads it always, 0 included
    (`pose2d.hourglass_weight_decay`: quick 1e-4, where its recipe was tuned; `paper` 0, as the official Adam), the
    others `pose2d.weight_decay` (quick 1e-4; `paper` the ViTPose recipe's 0.1)."""
    return getattr(cfg.pose2d, family(name).own_keys + "weight_decay")  # own_keys "" → weight_decay itself


def optimizer_of(cfg, name: str) -> str:
    """Optimizer of the 2D model `name`: `pose2d.hourglass_optimizer` for the Hourglass when set, else
    `pose2d.optimizer` (the official recipes differ: ViTPose AdamW, the Stacked Hourglass Adam)."""
    return pose2d_setting(cfg, name, "optimizer")


def batch_size_of(cfg, name: str) -> int:
    """Samples per training step of the 2D model `name`: `pose2d.hourglass_batch_size` for the Hourglass when
    set, else `pose2d.batch_size` (the official recipes differ: ViTPose 64 per GPU, the Stacked Hourglass 16)."""
    return pose2d_setting(cfg, name, "batch_size")


def sigma_of(cfg, name: str) -> float:
    """Heatmap target σ (heatmap px) of the 2D model `name`: `pose2d.hourglass_sigma` for the Hourglass when
    set, else `pose2d.sigma`. The official recipes differ: ViTPose σ = 2 on 64×48 heatmaps (mmpose
    `TopDownGenerateTarget(sigma=2)`), the Stacked Hourglass σ = output_res / 64 = 1 on 64×64
    (princeton-vl/pytorch_stacked_hourglass: data/MPII/dp.py `GenerateHeatmap`)."""
    return pose2d_setting(cfg, name, "sigma")


def heatmap_loss(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """JointsMSE with target weights, averaged over stacks (intermediate supervision).

    pred (B, S, J, h, w), target (B, J, h, w), weights (B, J).
    """
    w = weights[:, None, :, None, None]
    return ((pred.float() - target[:, None]) * w).pow(2).mean()


def predict_heatmaps(model, images: torch.Tensor, flip_test: bool) -> torch.Tensor:
    """Final-stack heatmaps (B, J, h, w); with flip test averaged with the mirrored image's (un-mirrored)."""
    heatmaps = model(images)[:, -1].float()
    if flip_test:
        flipped = model(torch.flip(images, dims=[3]))[:, -1].float()
        heatmaps = 0.5 * (heatmaps + flip_heatmaps(flipped, FLIP_PERMUTATION))
    return heatmaps


def heatmap_to_full_frame(points_hm: torch.Tensor, to_heatmap: torch.Tensor, flipped: torch.Tensor) -> torch.Tensor:
    """(B, J, 2) heatmap px → full-frame px through the inverse crop; flipped crops un-permute joints first."""
    perm = torch.as_tensor(FLIP_PERMUTATION, device=points_hm.device)
    points_hm = torch.where(flipped[:, None, None], points_hm[:, perm], points_hm)
    return apply_affine(points_hm.double(), invert_affine(to_heatmap.double())).float()


def keypoint_metrics(pred_full: torch.Tensor, batch: dict) -> dict:
    """PCK@0.05 / @0.1 of the box size, mean 2D error (full-frame px), the study's AP50 (PCK@0.5 of the GT diagonal)."""
    gt = batch["keypoints"].float()
    return {
        "pck05": pck(pred_full, gt, batch["box_size"], 0.05),
        "pck10": pck(pred_full, gt, batch["box_size"], 0.10),
        "error_px": mean_joint_error_2d(pred_full, gt),
        "ap50": ap50_study(pred_full, gt),
    }


def train_step(model, batch):
    pred = model(normalise_images(batch["image"]))
    loss = heatmap_loss(pred, batch["heatmaps"], batch["weights"])
    return loss, {}, len(pred)


def make_eval_step(flip_test: bool):
    def step(model, batch):
        heatmaps = predict_heatmaps(model, normalise_images(batch["image"]), flip_test)
        keypoints_hm, _ = decode_heatmaps(heatmaps)
        pred_full = heatmap_to_full_frame(keypoints_hm, batch["to_heatmap"], batch["flipped"])
        loss = heatmap_loss(heatmaps[:, None], batch["heatmaps"], batch["weights"]).item()
        return {"loss": loss, **keypoint_metrics(pred_full, batch)}, len(heatmaps)
    return step


# --- prediction stage ---------------------------------------------------------------------------

def prediction_loader(cfg, data, keys, pose_model, device):
    """Loader of every frame of `keys` in `data.cameras`, cropped for `pose_model` (its input and heatmap
    sizes) from the configured box source, without targets, in a fixed order (the prediction stages)."""
    dataset = FrameCropDataset(data, keys, cfg.data.cameras, 1, pose_model.input_size, pose_model.heatmap_size,
                               sigma=cfg.pose2d.sigma, margin=cfg.pose2d.box_margin, targets=False,
                               reduced_decode=cfg.data.reduced_decode, box_source=cfg.data.box_source,
                               detections=cfg.detections_path)
    return make_loader(dataset, batch_size=cfg.predict.batch_size, shuffle=False, num_workers=cfg.data.num_workers,
                       seed=cfg.seed, device=device)


def sequence_table(data, keys) -> dict[str, list[str]]:
    """subject → sorted sequence names: the table that the artifact's index column 1 points into."""
    table: dict[str, list[str]] = {}
    for key in keys:
        table.setdefault(key.subject, []).append(key.sequence)
    return {s: sorted(v) for s, v in table.items()}


def artifact_index(batch_index: torch.Tensor, keys, table) -> np.ndarray:
    """Dataset item index (subject, key index, camera, frame) → artifact index (subject, sequence, camera, frame)."""
    idx = batch_index.numpy().copy()
    idx[:, 1] = [table[keys[k].subject].index(keys[k].sequence) for k in idx[:, 1]]
    return idx.astype(np.int32)


def artifact_meta(cfg, data, *, source: str, checkpoint, keys, method: str | None = None) -> dict:
    from config import to_dict
    from dataloader.h36m import get_camera
    from utils.artifact import file_sha256

    table = sequence_table(data, keys)
    return {
        "source": source, "method": method, "checkpoint": str(checkpoint), "checkpoint_sha256": file_sha256(checkpoint),
        "dataset": {"root": str(data.root), "frame_template": data.frame_template},
        "units": "full-frame pixels (x, y); covariance in pixels², joint-major interleaved",
        "image_size": {str(c): [get_camera("S1", c).res_w, get_camera("S1", c).res_h] for c in cfg.data.cameras},
        "sequences": table,
        "frames": {s: {q: int(len(data.positions_3d[s][q])) for q in seqs} for s, seqs in table.items()},
        "config": to_dict(cfg),
    }


def export_videopose3d(path, keypoints: np.ndarray, index: np.ndarray, meta: dict) -> None:
    """Write data_2d_h36m_<name>.npz in the VideoPose3D layout (subject → sequence → 4 camera arrays).

    That format stores pickled dicts (it is what other lifting code reads); every frame must be present.
    """
    from dataloader.h36m import JOINTS_LEFT, JOINTS_RIGHT, NUM_CAMERAS

    positions: dict = {}
    for subject, seqs in meta["sequences"].items():
        s = int(subject[1:])
        positions[subject] = {}
        for q, seq in enumerate(seqs):
            cams = [None] * NUM_CAMERAS
            for cam in range(NUM_CAMERAS):
                rows = np.flatnonzero((index[:, 0] == s) & (index[:, 1] == q) & (index[:, 2] == cam))
                if len(rows):
                    cams[cam] = keypoints[rows[np.argsort(index[rows, 3])]].astype(np.float32)
            positions[subject][seq] = cams
    metadata = {"layout_name": "h36m", "num_joints": NUM_JOINTS,
                "keypoints_symmetry": [list(JOINTS_LEFT), list(JOINTS_RIGHT)]}
    np.savez_compressed(path, positions_2d=positions, metadata=metadata)

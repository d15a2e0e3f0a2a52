"""GraphMLP and SkateFormer outputs on fixed weights against stored reference outputs.

The shape, parameter-count and key-set tests cannot see a transposed adjacency, a (J, 2) window flattened
in the other order, a permuted joint layout or a partition that groups the wrong tokens: the model still
runs and has the same parameters. These tests run the tiny presets on deterministic weights and inputs
and compare with outputs stored in ``tests/reference/``:

- ``graphmlp_tiny27_reference.npy``: (2, 1, 17, 3) ``GraphMLP(**GRAPHMLP_PRESETS['tiny27'])`` on
  ``graphmlp_input()``;
- ``skateformer_tiny_reference.npy``: (2, 15) logits of ``SkateFormer(**SKATEFORMER_PRESETS['tiny'])`` on
  ``to_skateformer_input(skateformer_input())`` (the pipeline's layout step included).

Weights (``reference_state_dict``) depend only on each parameter's name and shape (NumPy's legacy
``RandomState``, whose streams are frozen), buffers (the adjacency, relative position indices, batch-norm
statistics) are the model's own, so module construction order does not matter and every release of
NumPy and torch gives the same numbers.

The stored outputs were computed with the OFFICIAL implementations (``Vegetebird/GraphMLP`` at 4b08600:
``model/graphmlp.py`` with ``model/block``; ``KAIST-VICLab/SkateFormer`` at 1f1d9ff: ``model/SkateFormer.py``),
loading the same state dicts with ``strict=True`` (this framework keeps the official parameter names).
Regenerate them with ``python -m tests.test_model_references --graphmlp DIR --skateformer DIR`` where DIR
are checkouts of those repositories (nothing of them is committed here); without the options, the current
code of this repository writes them instead (only after a deliberate, reviewed change of the models).
"""
from __future__ import annotations

import argparse
import sys
import zlib
from pathlib import Path

import numpy as np
import torch

from dataloader.h36m import NUM_JOINTS

DATA = Path(__file__).resolve().parent / "reference"  # not tests/data: .gitignore ignores every data/
GRAPHMLP_REFERENCE = DATA / "graphmlp_tiny27_reference.npy"
SKATEFORMER_REFERENCE = DATA / "skateformer_tiny_reference.npy"
BATCH = 2


def reference_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's state dict with every floating-point parameter replaced by values seeded by its name:
    norm scales 1 + 0.1 n, biases 0.1 n, other tensors n / √fan_in, n ~ N(0, 1) from RandomState(crc32(name))."""
    state = model.state_dict()
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad or not parameter.is_floating_point():
            continue  # GraphMLP's frozen adjacency A is the model's own
        n = np.random.RandomState(zlib.crc32(name.encode())).standard_normal(tuple(parameter.shape))
        if parameter.ndim == 1:
            value = 1.0 + 0.1 * n if name.endswith("weight") else 0.1 * n
        else:
            value = n / np.sqrt(np.prod(parameter.shape[1:]))
        state[name] = torch.as_tensor(value, dtype=parameter.dtype)
    return state


def graphmlp_input() -> torch.Tensor:
    """(2, 27, 17, 2): a smooth random motion in normalised screen units."""
    rng = np.random.RandomState(0)
    base = rng.uniform(-0.5, 0.5, (BATCH, 1, NUM_JOINTS, 2))
    velocity = rng.normal(0, 0.01, (BATCH, 1, NUM_JOINTS, 2))
    return torch.as_tensor(base + velocity * np.arange(27)[None, :, None, None], dtype=torch.float32)


def skateformer_input() -> tuple[torch.Tensor, torch.Tensor]:
    """((2, 16, 17, 2) pelvis-centred 2D clips, (2, 16) index_t as ActionClipDataset makes it)."""
    rng = np.random.RandomState(1)
    x = rng.uniform(-0.4, 0.4, (BATCH, 1, NUM_JOINTS, 2)) + rng.normal(0, 0.02, (BATCH, 16, NUM_JOINTS, 2)).cumsum(1)
    x = x - x[:, :1, :1]
    index_t = np.broadcast_to(2.0 * np.arange(16) / 16 - 1.0, (BATCH, 16))
    return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(index_t.copy(), dtype=torch.float32)


def ours(kind: str) -> torch.nn.Module:
    if kind == "graphmlp":
        from models.GraphMLP import GRAPHMLP_PRESETS, GraphMLP
        model = GraphMLP(**GRAPHMLP_PRESETS["tiny27"])
    else:
        from models.SkateFormer import SKATEFORMER_PRESETS, SkateFormer
        model = SkateFormer(**SKATEFORMER_PRESETS["tiny"])
    model.load_state_dict(reference_state_dict(model), strict=True)
    return model.eval()


@torch.no_grad()
def run(kind: str, model: torch.nn.Module) -> np.ndarray:
    from utils.stages.downstream import to_skateformer_input

    if kind == "graphmlp":
        return model(graphmlp_input()).numpy()
    x, index_t = skateformer_input()
    return model(to_skateformer_input(x), index_t).numpy()


def test_graphmlp_matches_the_stored_reference():
    np.testing.assert_allclose(run("graphmlp", ours("graphmlp")), np.load(GRAPHMLP_REFERENCE), rtol=1e-4, atol=1e-5)


def test_skateformer_matches_the_stored_reference():
    np.testing.assert_allclose(run("skateformer", ours("skateformer")), np.load(SKATEFORMER_REFERENCE),
                               rtol=1e-4, atol=1e-5)


def test_the_references_see_the_input_order():
    """Not vacuous: each output depends on where a joint and a frame are (a joint swap changes it)."""
    for kind, reference in (("graphmlp", GRAPHMLP_REFERENCE), ("skateformer", SKATEFORMER_REFERENCE)):
        model = ours(kind)
        if kind == "graphmlp":
            out = model(graphmlp_input()[:, :, [4, 1, 2, 3, 0, *range(5, NUM_JOINTS)]])
        else:
            from utils.stages.downstream import to_skateformer_input
            x, index_t = skateformer_input()
            out = model(to_skateformer_input(x[:, :, [0, 4, 2, 3, 1, *range(5, NUM_JOINTS)]]), index_t)
        assert np.abs(out.detach().numpy() - np.load(reference)).max() > 1e-3, kind


# --- regeneration ---------------------------------------------------------------------------------

def official(kind: str, checkout: Path) -> torch.nn.Module:
    """The official model built from a checkout, with the same weights (strict load: same names)."""
    from types import SimpleNamespace

    sys.path.insert(0, str(checkout))
    try:
        if kind == "graphmlp":
            from models.GraphMLP import GRAPHMLP_PRESETS
            from model.graphmlp import Model
            p = GRAPHMLP_PRESETS["tiny27"]
            model = Model(SimpleNamespace(frames=p["frames"], channel=p["channel"], d_hid=p["d_hid"],
                                          token_dim=p["token_dim"], layers=p["layers"], n_joints=NUM_JOINTS))
        else:
            from models.SkateFormer import SKATEFORMER_PRESETS
            from model.SkateFormer import SkateFormer
            model = SkateFormer(**SKATEFORMER_PRESETS["tiny"])
    finally:
        sys.path.remove(str(checkout))
        for name in [m for m in sys.modules if m == "model" or m.startswith("model.")]:
            del sys.modules[name]
    state = ours(kind).state_dict()
    model.load_state_dict(state, strict=True)
    return model.eval()


def make_references(graphmlp_checkout: Path | None = None, skateformer_checkout: Path | None = None) -> None:
    """Write the reference outputs: from the official checkouts when given, else from this repository's models."""
    DATA.mkdir(exist_ok=True)
    for kind, checkout, path in (("graphmlp", graphmlp_checkout, GRAPHMLP_REFERENCE),
                                 ("skateformer", skateformer_checkout, SKATEFORMER_REFERENCE)):
        model = official(kind, Path(checkout)) if checkout else ours(kind)
        out = run(kind, model).astype(np.float32)
        np.save(path, out)
        print(f"{path.name}: {out.shape} from {'the official code at ' + str(checkout) if checkout else 'this repository'}; "
              f"max |ours − it| = {np.abs(run(kind, ours(kind)) - out).max():.2e}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--graphmlp", type=Path, help="checkout of Vegetebird/GraphMLP")
    parser.add_argument("--skateformer", type=Path, help="checkout of KAIST-VICLab/SkateFormer")
    args = parser.parse_args()
    make_references(args.graphmlp, args.skateformer)

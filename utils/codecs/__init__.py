"""Coordinate codecs: full-frame pixels ↔ input-crop pixels ↔ heatmap pixels (``crop``: 2×3 affines, Σ ↦ AΣAᵀ,
boxes, left/right flips) and keypoints ↔ Gaussian heatmaps (``heatmap``: encode, decode, soft-argmax, flip test).

Pure functions of numpy arrays and torch tensors, each an encode/decode pair with a round-trip test
(tests/test_codecs.py). May import numpy, torch, cv2 and ``dataloader.h36m`` (joint order); nothing else
of the project.
"""

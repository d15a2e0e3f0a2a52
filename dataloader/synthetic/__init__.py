"""Synthetic Human3.6M in the real layout: procedural motion on a kinematic skeleton, projected
through the real cameras and rendered to frames (see README.md in this folder).

Modules: ``skeleton`` (bodies, forward/inverse kinematics of the 32 raw joints), ``motion``
(per-action trajectories), ``render`` (frames), ``generate`` (writes a root; CLI). To make a
root from Python::

    from dataloader.synthetic.generate import generate
    root = generate(tmp_path / "h36m", profile="tiny")
"""

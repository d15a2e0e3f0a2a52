"""TIC-TAC probabilistic 2D pose: covariance heads and the probabilistic wrapper of a heatmap model."""
from models.tictac.heads import AuxCovarianceNet, TICBottleneck, VisibilityHead
from models.tictac.probabilistic import ProbabilisticPoseModel

__all__ = ["AuxCovarianceNet", "TICBottleneck", "VisibilityHead", "ProbabilisticPoseModel"]

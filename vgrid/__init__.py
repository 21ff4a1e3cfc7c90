"""vgrid: scikit-learn's grid search for neural networks, every (candidate, fold) trained at once."""

from .engine import FitJob, fit_estimators

__all__ = ["FitJob", "fit_estimators"]
__version__ = "0.1.0"

"""vgrid: scikit-learn's grid search for neural networks, every (candidate, fold) trained at
once."""

from .compare import ReferenceReport, compare_with_sklearn
from .engine import FitJob, fit_estimators
from .estimators import MLPClassifier, MLPRegressor
from .flax_estimators import FlaxClassifier, FlaxRegressor
from .optuna_search import OptunaSearchCV, optimize_study
from .search import GridSearchCV, HalvingGridSearchCV, HalvingRandomSearchCV, RandomizedSearchCV

__all__ = [
    "FitJob",
    "FlaxClassifier",
    "FlaxRegressor",
    "GridSearchCV",
    "HalvingGridSearchCV",
    "HalvingRandomSearchCV",
    "MLPClassifier",
    "MLPRegressor",
    "OptunaSearchCV",
    "RandomizedSearchCV",
    "ReferenceReport",
    "compare_with_sklearn",
    "fit_estimators",
    "optimize_study",
]
__version__ = "0.1.0"

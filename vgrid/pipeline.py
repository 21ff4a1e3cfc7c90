"""Pipelines whose last step is an MLP: preprocess once per fold, vectorize the networks.

For `Pipeline([..., ("mlp", MLPClassifier())])` with a grid over `step__param` keys, the
candidates are grouped by the parameters of the steps before the network: each group's
transformers are fitted once per fold, on the training part, exactly as the pipeline's own
`fit` would fit them, and every network of the group then trains, vectorized, on the same
transformed data. A plain MLP is the special case of no preprocessing.

Example:
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from vgrid import MLPClassifier
    >>> pipe = make_pipeline(StandardScaler(), MLPClassifier())
    >>> split_params(pipe, {"standardscaler__with_mean": False, "mlpclassifier__alpha": 0.1})
    ({'standardscaler__with_mean': False}, {'alpha': 0.1})
"""

from __future__ import annotations

from sklearn.base import clone
from sklearn.pipeline import Pipeline

__all__ = ["final_step", "split_params", "fit_preprocessing", "assemble", "model_fit_params"]


def final_step(estimator):
    """(name, estimator) of a pipeline's last step; (None, estimator) for anything else."""
    if isinstance(estimator, Pipeline):
        return estimator.steps[-1]
    return None, estimator


def split_params(estimator, params: dict) -> tuple[dict, dict]:
    """A candidate's parameters: (those of the preprocessing, those of the network, unprefixed)."""
    name, _ = final_step(estimator)
    if name is None:
        return {}, dict(params)
    prefix = f"{name}__"
    pre = {k: v for k, v in params.items() if not k.startswith(prefix)}
    model = {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}
    return pre, model


def fit_preprocessing(estimator, pre_params: dict, X, y):
    """Fit the steps before the network on (X, y); returns (fitted steps or None, transformed X)."""
    if final_step(estimator)[0] is None:
        return None, X
    steps = clone(estimator[:-1]).set_params(**clone(pre_params, safe=False))
    return steps, steps.fit_transform(X, y)


def assemble(estimator, params: dict, steps, model):
    """The fitted estimator the user asked for: `model` itself, or the pipeline with `params`
    whose steps are the fitted `steps` followed by the fitted `model`."""
    name, _ = final_step(estimator)
    if name is None:
        return model
    pipeline = clone(estimator).set_params(**clone(params, safe=False))
    pipeline.steps = list(steps.steps) + [(name, model)]
    return pipeline


def model_fit_params(estimator, fit_params: dict) -> dict:
    """The network's own fit parameters (`sample_weight`, or `<last step>__sample_weight`)."""
    name, model = final_step(estimator)
    prefix = "" if name is None else f"{name}__"
    unknown = set(fit_params) - {f"{prefix}sample_weight"}
    if unknown:
        raise TypeError(
            f"vgrid passes only {prefix}sample_weight to "
            f"{type(estimator).__name__}.fit; got {sorted(unknown)}. Fit the "
            "search with scikit-learn's GridSearchCV for other fit parameters."
        )
    return {"sample_weight": fit_params.get(f"{prefix}sample_weight")}

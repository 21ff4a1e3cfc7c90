"""Plots of a fitted search (matplotlib): a score heatmap, learning curves and a rank plot.

Each function takes a fitted vgrid search and an optional matplotlib `Axes`, and returns the
`Axes` it drew on. matplotlib is an optional dependency: ``pip install "vgrid[plot]"``.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from sklearn.datasets import load_iris
>>> import vgrid, vgrid.plot
>>> X, y = load_iris(return_X_y=True)
>>> search = vgrid.GridSearchCV(vgrid.MLPClassifier(max_iter=15, random_state=0),
...     {"alpha": [1e-4, 1e-1], "learning_rate_init": [1e-3, 1e-2]}, cv=3).fit(X, y)
>>> ax = vgrid.plot.heatmap(search, "alpha", "learning_rate_init")
"""

from __future__ import annotations

import numpy as np

__all__ = ["heatmap", "learning_curves", "rank_plot"]


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4.5))
    return ax


def _metric(search, metric):
    if metric is None:
        metric = (
            "score"
            if "mean_test_score" in search.cv_results_
            else (search.refit if isinstance(search.refit, str) else None)
        )
    if f"mean_test_{metric}" not in search.cv_results_:
        names = sorted(
            k[len("mean_test_") :] for k in search.cv_results_ if k.startswith("mean_test_")
        )
        raise ValueError(f"metric={metric!r} is not in cv_results_; choose one of {names}.")
    return metric


def heatmap(search, x: str, y: str, *, metric: str | None = None, ax=None):
    """Mean test score over two hyperparameters (best over any others), one cell per pair.

    Parameters
    ----------
    search : fitted vgrid search
        Any search with `cv_results_` (scikit-learn's too).
    x, y : str
        Two searched hyperparameters (as in ``param_<name>``), on the horizontal and
        vertical axes; their values are sorted numerically where they are numbers.
    metric : str or None, default=None
        The scorer's name with several scorers; None: the single score, or `refit`'s.
    ax : matplotlib.axes.Axes or None, default=None
        Where to draw; None: a new figure.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on, each cell annotated with its score.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> import vgrid
    >>> X, y = load_iris(return_X_y=True)
    >>> search = vgrid.GridSearchCV(vgrid.MLPClassifier(max_iter=15, random_state=0),
    ...     {"alpha": [1e-4, 1e-1], "learning_rate_init": [1e-3, 1e-2]}, cv=3).fit(X, y)
    >>> ax = heatmap(search, "alpha", "learning_rate_init")
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('alpha', 'learning_rate_init')
    """
    results = search.cv_results_
    metric = _metric(search, metric)
    for name in (x, y):
        if f"param_{name}" not in results:
            params = sorted(k[len("param_") :] for k in results if k.startswith("param_"))
            raise ValueError(f"{name!r} is not a searched hyperparameter; choose from {params}.")
    xs = sorted({_label(v) for v in results[f"param_{x}"].compressed()}, key=_numeric_key)
    ys = sorted({_label(v) for v in results[f"param_{y}"].compressed()}, key=_numeric_key)
    grid = np.full((len(ys), len(xs)), np.nan)
    for xv, yv, score, mx, my in zip(
        results[f"param_{x}"].data,
        results[f"param_{y}"].data,
        results[f"mean_test_{metric}"],
        np.ma.getmaskarray(results[f"param_{x}"]),
        np.ma.getmaskarray(results[f"param_{y}"]),
    ):
        if mx or my:
            continue
        i, j = ys.index(_label(yv)), xs.index(_label(xv))
        grid[i, j] = np.nanmax([grid[i, j], score])
    ax = _axes(ax)
    image = ax.imshow(grid, cmap="viridis", origin="lower", aspect="auto")
    ax.set_xticks(range(len(xs)), xs, rotation=30, ha="right")
    ax.set_yticks(range(len(ys)), ys)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    for i in range(len(ys)):
        for j in range(len(xs)):
            if np.isfinite(grid[i, j]):
                ax.text(
                    j,
                    i,
                    f"{grid[i, j]:.3f}",
                    ha="center",
                    va="center",
                    color="white" if grid[i, j] < np.nanmean(grid) else "black",
                    fontsize=9,
                )
    ax.figure.colorbar(image, ax=ax, label=f"mean test {metric}")
    ax.set_title(f"mean test {metric}")
    return ax


def _label(value) -> str:
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return f"{value:g}"
    return str(value)


def _numeric_key(text):
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)


def learning_curves(search, *, top: int = 5, curve: str = "loss", ax=None):
    """Training loss (or validation score) per epoch of the `top` ranked candidates, mean over
    folds with the range over folds shaded.

    Parameters
    ----------
    search : fitted vgrid search
        A vgrid search (it reads `learning_curves_`).
    top : int, default=5
        How many of the best-ranked candidates to draw.
    curve : str, default="loss"
        "loss" (the training loss) or "validation_score" (early stopping only).
    ax : matplotlib.axes.Axes or None, default=None
        Where to draw; None: a new figure.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on, one line per candidate, labelled with its rank and parameters.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> import vgrid
    >>> X, y = load_iris(return_X_y=True)
    >>> search = vgrid.GridSearchCV(vgrid.MLPClassifier(max_iter=15, random_state=0),
    ...     {"alpha": [1e-4, 1e-1], "learning_rate_init": [1e-3, 1e-2]}, cv=3).fit(X, y)
    >>> ax = learning_curves(search, top=2)
    >>> len(ax.get_lines()), ax.get_xlabel()
    (2, 'epoch')
    """
    curves = search.learning_curves_[
        {"loss": "loss", "validation_score": "validation_score"}[curve]
    ]
    ranks = search.cv_results_[f"rank_test_{_metric(search, None)}"]
    ax = _axes(ax)
    for index in np.argsort(ranks, kind="stable")[:top]:
        trained = ~np.isnan(curves[index]).all(axis=0)  # NaN past every fold's n_iter_
        if not trained.any():
            continue
        runs = curves[index][:, : np.flatnonzero(trained)[-1] + 1]
        epochs = np.arange(1, runs.shape[1] + 1)
        mean = np.nanmean(runs, axis=0)
        label = ", ".join(
            f"{k}={_label(v)}" for k, v in search.cv_results_["params"][index].items()
        )
        (line,) = ax.plot(epochs, mean, label=f"#{ranks[index]} {label}")
        ax.fill_between(
            epochs,
            np.nanmin(runs, axis=0),
            np.nanmax(runs, axis=0),
            color=line.get_color(),
            alpha=0.15,
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss" if curve == "loss" else "validation score")
    ax.set_title(f"learning curves of the top {top} candidates")
    ax.legend(fontsize=7)
    return ax


def rank_plot(search, *, metric: str | None = None, ax=None):
    """Every candidate's mean test score (with its std over folds), best first.

    Parameters
    ----------
    search : fitted vgrid search
        Any search with `cv_results_` (scikit-learn's too).
    metric : str or None, default=None
        The scorer's name with several scorers; None: the single score, or `refit`'s.
    ax : matplotlib.axes.Axes or None, default=None
        Where to draw; None: a new figure.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> import vgrid
    >>> X, y = load_iris(return_X_y=True)
    >>> search = vgrid.GridSearchCV(vgrid.MLPClassifier(max_iter=15, random_state=0),
    ...     {"alpha": [1e-4, 1e-1], "learning_rate_init": [1e-3, 1e-2]}, cv=3).fit(X, y)
    >>> rank_plot(search).get_title()
    '4 candidates ranked'
    """
    metric = _metric(search, metric)
    results = search.cv_results_
    order = np.argsort(results[f"rank_test_{metric}"], kind="stable")
    mean, std = results[f"mean_test_{metric}"][order], results[f"std_test_{metric}"][order]
    ax = _axes(ax)
    ranks = np.arange(1, len(order) + 1)
    ax.errorbar(ranks, mean, yerr=std, fmt="o", markersize=4, capsize=2)
    ax.set_xlabel("candidate, best first")
    ax.set_ylabel(f"mean test {metric}")
    ax.set_title(f"{len(order)} candidates ranked")
    return ax

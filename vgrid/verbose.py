"""scikit-learn's verbose training log for an MLP fit, replayed from the fitted curves.

With `verbose=True`, scikit-learn's stochastic solvers print, per epoch, `Iteration N, loss =
...` and (with early stopping) `Validation score: ...`, and when the stopping rule fires its
message (`... Stopping.`, or for SGD's adaptive schedule `... Setting learning rate to ...`).
vgrid trains inside one compiled program and prints nothing while it runs; every one of those
lines follows from `loss_curve_`, `validation_scores_` and the hyperparameters by the same rule
scikit-learn applies (`_update_no_improvement_count`, `trigger_stopping`), so `training_log`
rebuilds them afterwards, character for character.

Example:
    >>> from types import SimpleNamespace
    >>> est = SimpleNamespace(loss_curve_=[0.5, 0.49], n_iter_=2, early_stopping=False,
    ...     validation_scores_=None, tol=0.1, n_iter_no_change=0, solver="adam",
    ...     learning_rate="constant", learning_rate_init=0.001)
    >>> print("\\n".join(training_log(est)))
    Iteration 1, loss = 0.50000000
    Iteration 2, loss = 0.49000000
    Training loss did not improve more than tol=0.100000 for 0 consecutive epochs. Stopping.
"""

from __future__ import annotations

import numpy as np

__all__ = ["print_training_log", "training_log"]


def training_log(est, partial_fit: bool = False) -> list[str]:
    """The lines scikit-learn's `_fit_stochastic` prints for this fitted estimator; with
    `partial_fit`, those of `partial_fit` called once per epoch (each call's epoch is its
    "Iteration 1", and a stop message ends only that call)."""
    lines = []
    partial = partial_fit
    best_loss, best_score, count = np.inf, -np.inf, 0
    learning_rate = est.learning_rate_init
    adaptive = est.solver == "sgd" and est.learning_rate == "adaptive"
    # The stopping rule in the training's dtype, as the fit applied it (float32 data: float32)
    real = np.asarray(est.coefs_[0]).dtype.type if hasattr(est, "coefs_") else np.float64
    for epoch in range(len(est.loss_curve_) if partial else est.n_iter_):
        loss = est.loss_curve_[epoch]
        lines.append(f"Iteration {1 if partial else epoch + 1}, loss = {loss:.8f}")
        if est.early_stopping:
            score = est.validation_scores_[epoch]
            lines.append(f"Validation score: {score:f}")
            count = count + 1 if score < best_score + est.tol else 0
            best_score = max(best_score, score)
            what = "Validation score"
        else:
            count = count + 1 if real(loss) > real(best_loss) - real(est.tol) else 0
            best_loss = min(best_loss, real(loss))
            what = "Training loss"
        if count > est.n_iter_no_change:
            message = (
                f"{what} did not improve more than tol={est.tol:f} for"
                f" {est.n_iter_no_change} consecutive epochs."
            )
            if not adaptive:
                lines.append(message + " Stopping.")
                if partial:
                    continue  # the call ends; the next one goes on, its count kept
                break
            if learning_rate <= 1e-6:
                lines.append(message + " Learning rate too small. Stopping.")
                if partial:
                    continue
                break
            learning_rate /= 5.0
            lines.append(message + f" Setting learning rate to {learning_rate:f}")
            count = 0
    return lines


def print_training_log(est, partial_fit: bool = False) -> None:
    """Print `training_log(est, partial_fit)` when the estimator is verbose, as scikit-learn
    does."""
    if est.verbose:
        for line in training_log(est, partial_fit):
            print(line)

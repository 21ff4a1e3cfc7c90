"""The search facade: its fit mirrors scikit-learn's, and keeps no state on the search.

`_VectorizedSearchMixin._fit_vectorized` is scikit-learn's `BaseSearchCV.fit` but for the few
statements that hand the work to vgrid; the halving branch of its `fit` is
`BaseSuccessiveHalving.fit`. The sources are compared statement by statement (as `ast.unparse`
writes them: comments, docstrings, line wrapping and local annotations do not count, indentation
does), so that a change of scikit-learn's fit fails here until the mirror follows it.
"""

import ast
import difflib
import inspect
import textwrap
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection._search import BaseSearchCV
from sklearn.model_selection._search_successive_halving import BaseSuccessiveHalving

import vgrid
from vgrid.search import _VectorizedSearchMixin


class _Normalize(ast.NodeTransformer):
    """Drops local variable annotations, and inlines the body of `with <inline>:` blocks."""

    def __init__(self, inline=None):
        self.inline = inline

    def visit_AnnAssign(self, node):
        return ast.Assign(targets=[node.target], value=node.value, lineno=node.lineno)

    def visit_With(self, node):
        self.generic_visit(node)
        if ast.unparse(node.items[0].context_expr) == self.inline:
            return node.body
        return node


def _statements(body, inline=None):
    """The statements of `body` (a list of AST nodes), one line per statement or block header."""
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    module = _Normalize(inline).visit(ast.Module(body=body, type_ignores=[]))
    return ast.unparse(ast.fix_missing_locations(module)).splitlines()


def _function(function):
    return ast.parse(textwrap.dedent(inspect.getsource(function))).body[0]


def _changes(theirs, ours):
    """The lines only one side has: ("-", scikit-learn's line) or ("+", ours), stripped."""
    diff = difflib.unified_diff(theirs, ours, n=0, lineterm="")
    return [
        (line[0], line[1:].strip())
        for line in diff
        if line[:1] in "-+" and not line.startswith(("---", "+++"))
    ]


#: Every difference between scikit-learn 1.9.1's BaseSearchCV.fit and the mirror.
EXPECTED_CHANGES = [
    # the work goes to this fit's SearchRun, not to joblib
    ("-", "parallel = Parallel(n_jobs=self.n_jobs, pre_dispatch=self.pre_dispatch)"),
    (
        "-",
        "fit_and_score_kwargs = dict(scorer=scorers, fit_params=routed_params.estimator.fit, "
        "score_params=routed_params.scorer.score, return_train_score=self.return_train_score, "
        "return_n_test_samples=True, return_times=True, return_parameters=False, "
        "error_score=self.error_score, verbose=self.verbose)",
    ),
    ("+", "run = self._start_run(base_estimator, X, y, params, scorers, routed_params)"),
    # every (candidate, split) at once, instead of one _fit_and_score call (and callback
    # context) per pair
    (
        "-",
        "candidate_split_pairs = list(product(enumerate(candidate_params), enumerate(cv_splits)))",
    ),
    ("-", "if callback_ctx is not None:"),
    (
        "-",
        "evaluation_contexts = [callback_ctx.subcontext(task_name='candidate-split-evaluation', "
        "task_id=task_id) for task_id in range(len(candidate_split_pairs))]",
    ),
    ("-", "else:"),
    ("-", "evaluation_contexts = [None] * len(candidate_split_pairs)"),
    (
        "-",
        "out = parallel((delayed(_fit_and_score)(clone(base_estimator), X, y, train=train, "
        "test=test, parameters=parameters, split_progress=(split_idx, n_splits), "
        "candidate_progress=(cand_idx, n_candidates), **fit_and_score_kwargs, caller=self, "
        "callback_ctx=evaluation_ctx) for ((cand_idx, parameters), (split_idx, (train, test))), "
        "evaluation_ctx in zip(candidate_split_pairs, evaluation_contexts)))",
    ),
    ("+", "out = self._evaluate_vectorized(run, candidate_params, cv_splits)"),
    # a method, so that OptunaSearchCV's batches go on when every fit of one fails
    ("-", "_warn_or_raise_about_fit_failures(out, self.error_score)"),
    ("+", "self._warn_or_raise_about_fit_failures(out)"),
    # the refit: vgrid's engine (or scikit-learn's own fit, when cheaper) fits best_estimator_
    ("-", "if y is not None:"),
    ("-", "self.best_estimator_.fit(X, y, **routed_params.estimator.fit)"),
    ("-", "else:"),
    ("-", "self.best_estimator_.fit(X, **routed_params.estimator.fit)"),
    ("+", "self.refit_engine_ = run.refit(self.best_estimator_, self.best_index_)"),
    # learning_curves_, vectorization_, checkpoint_chunks_, resumed_epochs_
    ("+", "vars(self).update(run.fitted_attributes())"),
]


def test_vectorized_fit_mirrors_scikit_learns_fit():
    theirs = _statements(_function(BaseSearchCV.fit).body, inline="parallel")
    ours = _statements(_function(_VectorizedSearchMixin._fit_vectorized).body)
    changes = _changes(theirs, ours)
    assert changes == EXPECTED_CHANGES, "\n".join(f"{sign} {line}" for sign, line in changes)


def test_halving_branch_mirrors_scikit_learns_halving_fit():
    theirs = _statements(_function(BaseSuccessiveHalving.fit).body)
    (branch,) = [
        node
        for node in _function(_VectorizedSearchMixin.fit).body
        if isinstance(node, ast.If) and "BaseSuccessiveHalving" in ast.unparse(node.test)
    ]
    changes = _changes(theirs, _statements(branch.body))
    assert changes == [
        ("-", "super().fit(X, y=y, **params)"),
        ("+", "self._fit_vectorized(X, y, **params)"),
    ]


def _private_state(search):
    return sorted(name for name in vars(search) if name.startswith("_"))


def test_fit_keeps_no_state_on_the_search(datasets, tmp_path):
    """Only parameters and fitted attributes stay on a search after fit, and scikit-learn's own
    private attributes (its halving's `_run_search` reads them)."""
    X, y = datasets["iris"]
    model = vgrid.MLPClassifier(hidden_layer_sizes=(4,), max_iter=9, random_state=0)
    grid = {"alpha": [1e-4, 1e-2, 1.0]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = vgrid.GridSearchCV(model, grid, cv=2, checkpoint=tmp_path).fit(X, y)
        halving = vgrid.HalvingGridSearchCV(
            model, grid, resource="max_iter", min_resources=3, max_resources=9, cv=2
        ).fit(X, y)
    assert _private_state(search) == ["_checked_cv_orig"]
    assert _private_state(halving) == ["_checked_cv_orig", "_n_samples_orig"]
    assert search.checkpoint_chunks_["saved"] > 0 and not hasattr(search, "resumed_epochs_")
    assert halving.resumed_epochs_ > 0
    assert np.isfinite(halving.learning_curves_["loss"][:, :, 0]).all()

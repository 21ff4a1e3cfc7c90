"""scikit-learn's own estimator checks on vgrid's estimators."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from vgrid import MLPClassifier, MLPRegressor


@parametrize_with_checks([MLPClassifier(), MLPRegressor()])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)

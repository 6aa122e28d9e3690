"""Tutorial 06's exercise: standardize with the training set's statistics."""
import minidl as md
from minidl.exercises.check import Exercise


def _standardize_cases(rng):
    for shape in [(20, 3), (50, 5)]:
        train = 3 * rng.standard_normal(shape) + 5
        train[:, 0] = 2.0  # a constant feature: std 0 must not give NaN
        yield f"train {shape}, test (7, {shape[1]})", (train, 3 * rng.standard_normal((7, shape[1])) + 5)


def _standardize_reference(train, test):
    scaler = md.data.Standardizer(axis=0).fit(train)
    return scaler.transform(train), scaler.transform(test)


EXERCISES = [
    Exercise("standardize", "06 exercise 5",
             "standardize(train, test) -> (train', test'), both scaled with the training set's mean and std",
             _standardize_cases, _standardize_reference, rtol=1e-6),
]  # fmt: skip

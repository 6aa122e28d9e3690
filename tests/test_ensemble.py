"""md.ensemble: voting and averaging, checked on hand-made logits, then a measured gain on digits."""
import numpy as np
import pytest

import minidl as md
from minidl import nn
from minidl.ensemble import VotingClassifier, accuracy, average_predictions, model_outputs
from minidl.tune.examples import digits_splits, make_mlp, train_classifier


def linear_model(weight):
    """A bias-free Linear whose output is x @ weight.T: with an identity weight, the input is the logits."""
    model = nn.Linear(*np.shape(weight)[::-1], bias=False)
    model.weight.array[...] = weight
    return model


def test_soft_and_hard_voting_differ_as_their_formulas_say():
    # two models mildly prefer class 0, one is sure of class 1
    logits = np.array([[1.0, 0.0, 0.0]], dtype=np.float32)
    mild, sure = linear_model(np.eye(3)), linear_model([[0, 0, 0], [8, 0, 0], [0, 0, 0]])  # logits [0, 8, 0]
    models = [mild, mild, sure]
    hard = VotingClassifier(models, voting="hard")
    np.testing.assert_allclose(hard.predict_proba(logits), [[2 / 3, 1 / 3, 0]])
    assert hard.predict(logits).tolist() == [0]
    soft = VotingClassifier(models, voting="soft")
    p_mild = np.exp([1, 0, 0]) / np.exp([1, 0, 0]).sum()
    p_sure = np.exp([0, 8, 0]) / np.exp([0, 8, 0]).sum()
    np.testing.assert_allclose(soft.predict_proba(logits)[0], (2 * p_mild + p_sure) / 3, rtol=1e-6)
    assert soft.predict(logits).tolist() == [1]
    # weights tip the hard vote
    assert VotingClassifier(models, voting="hard", weights=[1, 1, 3]).predict(logits).tolist() == [1]


def test_average_predictions_is_the_weighted_mean_and_batches_do_not_matter():
    x = np.random.default_rng(0).standard_normal((10, 4)).astype(np.float32)
    a, b = linear_model(np.ones((2, 4))), linear_model(np.full((2, 4), 3.0))
    expected = (1 * x @ np.ones((4, 2)) + 3 * x @ np.full((4, 2), 3.0)) / 4
    np.testing.assert_allclose(average_predictions([a, b], x, weights=[1, 3], batch_size=3), expected, rtol=1e-5)
    np.testing.assert_allclose(model_outputs(a, x, batch_size=3), model_outputs(a, x, batch_size=100))


def test_predictions_run_in_eval_mode_and_restore_the_mode():
    model = nn.Sequential(nn.Dropout(0.5), nn.Linear(4, 2))
    x = np.ones((64, 4), dtype=np.float32)
    with md.no_grad():
        expected = nn.Sequential(model[1])(md.tensor(x)).numpy()
    np.testing.assert_allclose(model_outputs(model, x), expected)  # no dropout
    assert model.training


def test_bad_arguments_name_the_function():
    model = linear_model(np.eye(2))
    with pytest.raises(ValueError, match="VotingClassifier: voting"):
        VotingClassifier([model], voting="average")
    with pytest.raises(ValueError, match="VotingClassifier: weights must be 2"):
        VotingClassifier([model, model], weights=[1.0])
    with pytest.raises(ValueError, match="average_predictions: expected at least one model"):
        average_predictions([], np.ones((1, 2)))


def test_an_ensemble_of_differently_seeded_mlps_beats_its_members_on_digits():
    x_train, y_train, x_val, y_val, x_test, y_test = digits_splits()
    x_fit, y_fit = np.concatenate([x_train, x_val]), np.concatenate([y_train, y_val])
    models = []
    for seed in range(5):
        model = make_mlp(hidden=16, seed=seed)
        train_classifier(model, md.optim.Adam(model.parameters(), lr=3e-2), x_fit, y_fit, epochs=10, seed=seed)
        models.append(model)
    singles = [accuracy(m, x_test, y_test) for m in models]
    soft = float((VotingClassifier(models, voting="soft").predict(x_test) == y_test).mean())
    hard = float((VotingClassifier(models, voting="hard").predict(x_test) == y_test).mean())
    print(f"single models {np.round(singles, 3)}, soft vote {soft:.3f}, hard vote {hard:.3f}")
    assert soft >= np.mean(singles) + 0.01 and soft >= max(singles)
    assert hard >= np.mean(singles)

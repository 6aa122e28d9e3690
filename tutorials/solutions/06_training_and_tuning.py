"""Solutions to the exercises of tutorial 06 (training and tuning). Try the exercises first!

``CHECKED`` maps each checkable exercise to its solution; run this file from the repository root
(``python tutorials/solutions/06_training_and_tuning.py``) to see ``md.testing.check_exercise``
accept it. Exercises 1-4 are experiments: ``--all`` runs them too (a minute or two on two cores)
and prints what they show; each function below reruns one section of the tutorial with the
exercise's change.
"""
import functools
import sys

import numpy as np

import minidl as md
from minidl.data import DataLoader, Standardizer, StratifiedKFold, TensorDataset, augment, load_digits, train_test_split
from minidl.train import metrics


# Exercise 5. The statistics come from `train` alone: scaling `test` with its own mean and std
# would leak information about the test set into the model's inputs.
def standardize(train, test):
    """Both arrays scaled with the mean and (population) std of each feature of ``train``."""
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std = np.where(std > 0, std, 1.0)  # a constant feature: divide by 1, not by 0
    return (train - mean) / std, (test - mean) / std


CHECKED = {"standardize": standardize}


# ---------------------------------------------------------------- exercises 1-4: the experiments
@functools.lru_cache(maxsize=1)
def digits():
    """Sections 1 and 2 of the tutorial: the split and the training set's scaler."""
    x, y = load_digits(as_images=True)
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.2, stratify=y, seed=0)
    x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=0.1, stratify=y_rest, seed=0)
    scaler = Standardizer(axis=(0, 2, 3)).fit(x_train)
    return x_rest, y_rest, x_train, y_train, scaler.transform(x_val), y_val, scaler.transform(x_test), y_test, scaler


def fit_cnn(transform, extra_callbacks=(), epochs=30):
    """Section 5 (without the checkpoint), inputs passed through ``transform``: the history, the
    epoch early stopping restored, and the test accuracy of the restored weights."""
    _, _, x_train, y_train, x_val, y_val, x_test, y_test, _ = digits()
    md.manual_seed(0)
    model = md.models.cnn(in_channels=1, image_size=8)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=32, shuffle=True, seed=0, transform=transform)
    stopper = md.train.EarlyStopping("val_loss", patience=5, restore_best_weights=True)
    history = md.train.fit(model, md.nn.CrossEntropyLoss(), md.optim.Adam(model.parameters(), lr=1e-3), loader,
                           epochs, DataLoader(TensorDataset(x_val, y_val), batch_size=256),
                           [stopper, *extra_callbacks], metrics=["accuracy"], verbose=False)  # fmt: skip
    test_accuracy = metrics.accuracy(y_test, md.train.predict(model, x_test).argmax(axis=1))
    return history, stopper.best_epoch, test_accuracy


def report(label, history, best, test_accuracy):
    at = history.epoch.index(best)
    print(f"{label}: {len(history)} epochs, restored {best}; there training loss {history['loss'][at]:.4f}, "
          f"validation loss {history['val_loss'][at]:.4f}; test accuracy {test_accuracy:.4f}")  # fmt: skip


# Exercise 1. Without augmentation the network sees the same 1,293 images every epoch.
def exercise_1():
    scaler = digits()[-1]
    augmentation = augment.Compose([augment.RandomRotation(10), augment.RandomCrop(8, padding=1)], seed=0)
    report("augmented     ", *fit_cnn(lambda images: scaler.transform(augmentation(images))))
    report("not augmented ", *fit_cnn(scaler.transform))


# Exercise 2. patience=0 stops at the first epoch whose validation loss is not a new best.
def exercise_2():
    _, _, x_train, y_train, x_val, y_val, *_, scaler = digits()
    few = DataLoader(TensorDataset(scaler.transform(x_train[:100]), y_train[:100]), batch_size=32, shuffle=True, seed=0)
    val_loader = DataLoader(TensorDataset(x_val, y_val), batch_size=256)
    for patience in (10, 0):
        md.manual_seed(0)
        wide = md.models.mlp(64, 512)
        stopper = md.train.EarlyStopping("val_loss", patience=patience, restore_best_weights=True)
        history = md.train.fit(wide, md.nn.CrossEntropyLoss(), md.optim.Adam(wide.parameters(), lr=3e-3), few, 100,
                               val_loader, [stopper], verbose=False)  # fmt: skip
        print(f"patience {patience:2d}: stopped after epoch {history.epoch[-1]}, restored epoch {stopper.best_epoch} "
              f"(validation loss {stopper.monitor.best:.4f})")  # fmt: skip


# Exercise 3. The schedule sets lr = 1e-3 * 0.9**epoch before each epoch (epochs counted from 0).
def exercise_3():
    scaler = digits()[-1]
    augmentation = augment.Compose([augment.RandomRotation(10), augment.RandomCrop(8, padding=1)], seed=0)
    schedule = md.train.LearningRateScheduler(lambda epoch, lr: 1e-3 * 0.9**epoch)
    history, best, test_accuracy = fit_cnn(lambda images: scaler.transform(augmentation(images)), [schedule])
    report("0.9 per epoch ", history, best, test_accuracy)
    print("lr by epoch:", " ".join(f"{lr:.2g}" for lr in history["lr"]))
    md.viz.show(md.viz.plot_lr(history), "06_solution_lr.png")


# Exercise 4. batch_size joins the space; the fold's DataLoader reads it from params.
def exercise_4(n_trials=12, n_folds=5, epochs=15):
    x_rest, y_rest = digits()[:2]

    def mlp_fold(params, train_idx, val_idx, seed):
        md.manual_seed(seed)
        fold_scaler = Standardizer(axis=(0, 2, 3)).fit(x_rest[train_idx])
        net = md.models.mlp(64, int(params["hidden"]))
        loader = DataLoader(TensorDataset(fold_scaler.transform(x_rest[train_idx]), y_rest[train_idx]),
                            batch_size=int(params["batch_size"]), shuffle=True, seed=seed)  # fmt: skip
        md.train.fit(net, md.nn.CrossEntropyLoss(), md.optim.Adam(net.parameters(), lr=params["lr"]), loader, epochs,
                     verbose=False)  # fmt: skip
        held_out = DataLoader(TensorDataset(fold_scaler.transform(x_rest[val_idx]), y_rest[val_idx]), batch_size=512)
        return md.train.evaluate(net, md.nn.CrossEntropyLoss(), held_out)["loss"]

    space = {"lr": md.tune.LogUniform(1e-4, 1e-1), "hidden": md.tune.IntUniform(16, 128),
             "batch_size": md.tune.Choice([16, 32, 64])}  # fmt: skip
    folds = StratifiedKFold(n_folds, shuffle=True, seed=0)
    results = md.tune.random_search(md.tune.cross_validate(mlp_fold, x_rest, y_rest, folds), space, n_trials,
                                    seed=0, mode="min")  # fmt: skip
    print(results.to_text())
    figure = md.tune.plot_results(results, log_scale=("lr",), score_name="validation loss")
    md.viz.show(figure, "06_solution_search.png")


if __name__ == "__main__":
    for name, solution in CHECKED.items():
        assert md.testing.check_exercise(name, solution), name
    if "--all" in sys.argv:
        for number, experiment in enumerate([exercise_1, exercise_2, exercise_3, exercise_4], 1):
            print(f"\nexercise {number}")
            experiment()

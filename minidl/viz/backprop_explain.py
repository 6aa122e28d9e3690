"""``python -m minidl explain``: the backprop page of the digits MLP's first training step (the
demo's model, seed and first minibatch), so a learner sees where each weight's gradient comes from."""
import numpy as np

import minidl as md
import minidl.functional as F
from minidl.demo import load_digits_split
from minidl.models import mlp
from minidl.viz.backprop_page import backprop_page
from minidl.viz.backprop_record import record_forward


def explain_first_step(path, seed=0, batch_size=32, hidden=64):
    """Write the page of the loss of the first minibatch of ``python -m minidl demo`` (same seed,
    same split, same batch order) to ``path``; returns the BackpropPage."""
    x_train, _, y_train, _ = load_digits_split()
    md.manual_seed(seed)
    model = mlp(in_features=x_train.shape[1], hidden=hidden, num_classes=10)
    batch = np.random.default_rng(seed).permutation(len(x_train))[:batch_size]
    with record_forward():
        loss = F.cross_entropy(model(md.tensor(x_train[batch])), md.tensor(y_train[batch]))
    return backprop_page(loss, path, model=model)

"""Magnitude pruning: set the smallest weights to zero, on the bet that they matter least.

    masks = prune_magnitude(model, amount=0.8)              # 80% of all Linear/Conv2d weights -> 0
    optimizer = KeepPruned(md.optim.Adam(model.parameters(), lr=1e-3), model, masks)
    ... fine-tune with optimizer as usual: after every step the pruned weights are zero again ...
    sparsity(model)                                        # 0.8

A mask is a boolean array shaped like its weight and on its device (NumPy or CuPy), True where
the weight is kept.  Only the ``weight`` of the chosen layer types is pruned; biases (few, and
cheap) are kept.
"""
import numbers

import numpy as np

from minidl import backend
from minidl.nn import Conv2d, Linear

PRUNABLE = (Linear, Conv2d)


def prunable_weights(model, layers=PRUNABLE):
    """{parameter name: weight Parameter} of every module of a type in ``layers``, e.g. ``"0.weight"``."""
    return {
        f"{name}.weight" if name else "weight": module.weight
        for name, module in model.named_modules()
        if isinstance(module, tuple(layers)) and module.weight is not None
    }


def prune_magnitude(model, amount, scope="global", layers=PRUNABLE):
    """Zero the fraction ``amount`` of the prunable weights with the smallest |w|; return the masks.

    - ``scope="global"``: rank all prunable weights together; k = round(amount * total) are
      zeroed, so layers with small weights lose more.
    - ``scope="layer"``: rank each layer on its own; each loses k_l = round(amount * n_l).

    Ties are broken by position, so exactly k weights are zeroed.  Already-zero weights rank
    lowest, so pruning a pruned model further keeps the earlier zeros.
    """
    if not isinstance(amount, numbers.Real) or not 0 <= amount <= 1:
        raise ValueError(f"prune_magnitude: amount must be a fraction in [0, 1], got {amount!r}")
    weights = prunable_weights(model, layers)
    if not weights:
        raise ValueError(f"prune_magnitude: the model has no layers of type {[t.__name__ for t in layers]}")
    xp = backend.get_array_module(next(iter(weights.values())).array)
    if scope == "layer":
        masks = {name: _keep_largest(xp.abs(w.array), amount) for name, w in weights.items()}
    elif scope == "global":
        magnitudes = [xp.abs(w.array).reshape(-1) for w in weights.values()]
        flat_mask = _keep_largest(xp.concatenate(magnitudes), amount)
        pieces = xp.split(flat_mask, np.cumsum([m.size for m in magnitudes])[:-1].tolist())
        masks = {name: piece.reshape(w.shape) for (name, w), piece in zip(weights.items(), pieces)}
    else:
        raise ValueError(f"prune_magnitude: scope must be 'global' or 'layer', got {scope!r}")
    apply_masks(model, masks)
    return masks


def _keep_largest(magnitudes, amount):
    """A mask of ``magnitudes``' shape, on their device: False at the round(amount * size)
    smallest entries."""
    xp = backend.get_array_module(magnitudes)
    k = int(round(amount * magnitudes.size))
    order = xp.argsort(magnitudes.reshape(-1), kind="stable")
    mask = xp.ones(magnitudes.size, dtype=bool)
    mask[order[:k]] = False
    return mask.reshape(magnitudes.shape)


def apply_masks(model, masks):
    """w <- w * mask for every masked weight (in place): pruned weights are exactly zero again.
    A mask on another device than its weight (masks made before ``model.to("cuda")``) is copied
    to the weight's device first."""
    params = dict(model.named_parameters())
    for name, mask in masks.items():
        if name not in params:
            raise KeyError(f"apply_masks: the model has no parameter {name!r}; its parameters: {sorted(params)}")
        params[name].array *= backend.to_device(mask, params[name].device)


class KeepPruned:
    """Wrap an optimizer so that every ``step()`` is followed by ``apply_masks(model, masks)``:
    fine-tuning then moves only the kept weights (momentum or Adam state cannot revive a pruned
    one).  Everything else (``zero_grad``, ``param_groups``, ``state_dict`` ...) is the wrapped
    optimizer's, so it drops into any training loop."""

    def __init__(self, optimizer, model, masks):
        self.optimizer, self.model, self.masks = optimizer, model, masks

    def step(self):
        self.optimizer.step()
        apply_masks(self.model, self.masks)

    def __getattr__(self, name):
        return getattr(self.optimizer, name)


def sparsity(model, layers=PRUNABLE):
    """The fraction of the prunable weights that are exactly zero."""
    weights = list(prunable_weights(model, layers).values())
    zeros = sum(int((w.array == 0).sum()) for w in weights)
    return zeros / max(sum(w.array.size for w in weights), 1)

"""L1 and L2 penalties: regularization written as a loss term, so it works with any optimizer.

    loss = data_loss + l2_penalty(model.parameters(), 1e-4)

The gradient of the penalty is what the optimizers' ``weight_decay`` adds to g:

    l2_penalty(params, lam) = lam / 2 * sum w^2     ->  gradient lam * w
    l1_penalty(params, lam) = lam * sum |w|         ->  gradient lam * sign(w)

so SGD on ``loss + l2_penalty(params, lam)`` takes the same steps as SGD(weight_decay=lam).  With
Adam the two differ from AdamW's decoupled decay (see ``md.optim.AdamW``).  L1 pushes weights to
exactly zero (sparse models); L2 shrinks all weights in proportion to their size.
"""
import numbers

from minidl.tensor import Tensor


def _penalty(name, parameters, strength, term):
    """strength * sum over the parameters of term(w).sum()."""
    if isinstance(strength, bool) or not isinstance(strength, numbers.Real) or strength < 0:
        raise ValueError(f"{name}: strength must be a number >= 0, got {strength!r}")
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    if not params:
        raise ValueError(f"{name}: got no parameters to regularize")
    return strength * sum(term(w).sum() for w in params)


def l1_penalty(parameters, strength):
    """strength * sum |w| over all parameters: a loss term whose gradient is strength * sign(w)."""
    return _penalty("l1_penalty", parameters, strength, abs)


def l2_penalty(parameters, strength):
    """strength / 2 * sum w^2 over all parameters: a loss term whose gradient is strength * w."""
    return _penalty("l2_penalty", parameters, strength, lambda w: 0.5 * w * w)

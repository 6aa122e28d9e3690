"""Shared by the layer tests: the same layer from torch.nn and md.nn with torch's weights, and one
forward and backward step of both compared (float64, 1e-10)."""
import numpy as np
import pytest

import minidl as md
from minidl.testing import assert_close

torch = pytest.importorskip("torch")


def twins(layer_name, *args, **kwargs):
    """``torch.nn.<layer_name>(*args, **kwargs)`` and minidl's, in float64, with torch's initial
    weights loaded into ours through its state_dict."""
    torch.manual_seed(0)
    theirs = getattr(torch.nn, layer_name)(*args, **kwargs).double()
    ours = getattr(md.nn, layer_name)(*args, **kwargs).double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def assert_step_matches(ours, theirs, x, **forward_options):
    """Output, input gradient and parameter gradients of one forward and backward agree."""
    x_ours, x_theirs = md.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_ours, out_theirs = ours(x_ours, **forward_options), theirs(x_theirs, **forward_options)
    assert_close(out_ours.numpy(), out_theirs.detach().numpy(), 1e-10, 1e-10, "output")
    upstream = np.random.default_rng(2).standard_normal(out_theirs.shape)
    (out_ours * md.tensor(upstream)).sum().backward()
    (out_theirs * torch.tensor(upstream)).sum().backward()
    assert_close(x_ours.grad.numpy(), x_theirs.grad.numpy(), 1e-10, 1e-10, "input grad")
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        assert_close(p.grad.numpy(), q.grad.numpy(), 1e-10, 1e-10, f"grad of {name}")

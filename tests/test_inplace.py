"""In-place operations: torch's semantics and errors (the gradients are in op_cases.py)."""
import numpy as np
import pytest

import minidl as md

torch = pytest.importorskip("torch")


def test_in_place_methods_return_the_tensor_itself_and_change_its_array():
    x = md.tensor([1.0, 2.0, 3.0])
    array = x.array
    assert x.add_(1) is x and x.mul_(2) is x and x.sub_(1, alpha=2) is x and x.div_(2) is x
    assert x.array is array and x.tolist() == [1.0, 2.0, 3.0]
    y = x
    y += 1
    y *= 2
    y -= 1
    y /= 2
    y **= 2
    assert y is x and x.tolist() == [2.25, 6.25, 12.25]  # ((x + 1) * 2 - 1) / 2, squared
    assert x.zero_() is x and x.tolist() == [0.0, 0.0, 0.0]
    assert x.fill_(md.tensor(2.5)).tolist() == [2.5, 2.5, 2.5]
    assert x.copy_(md.tensor([1, 2, 3])).tolist() == [1.0, 2.0, 3.0]  # copy_ casts int to float


def test_the_first_manual_sgd_loop_of_a_course_updates_the_model_as_torch_does():
    """``p -= lr * p.grad`` under no_grad: the program that rebinding used to break silently."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 3)), rng.standard_normal((16, 1))
    weights = {"w": rng.standard_normal((3, 1)), "b": np.zeros(1)}
    results = {}
    for lib in (md, torch):
        params = [lib.tensor(weights["w"], requires_grad=True), lib.tensor(weights["b"], requires_grad=True)]
        for _ in range(5):
            loss = ((lib.tensor(x) @ params[0] + params[1] - lib.tensor(y)) ** 2).mean()
            loss.backward()
            with lib.no_grad():
                for p in params:
                    p -= 0.1 * p.grad
                    p.grad.zero_()
        results[lib.__name__] = [p.detach().numpy().copy() for p in params]
    for mine, theirs in zip(results["minidl"], results["torch"]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12)
    assert not np.allclose(results["minidl"][0], weights["w"])


def test_version_counter_counts_writes_and_is_shared_by_views_and_detach():
    x = md.tensor([[1.0, 2.0], [3.0, 4.0]])
    row, transposed, detached = x[0], x.T, x.detach()
    assert x._version == 0
    x.add_(1)
    row.mul_(2)
    x[1] = 0.0
    assert x._version == row._version == transposed._version == detached._version == 3
    assert x.tolist() == [[4.0, 6.0], [0.0, 0.0]] and transposed.tolist() == [[4.0, 0.0], [6.0, 0.0]]
    copy = x[[0, 1]]  # advanced indexing copies: its own counter
    x.add_(1)
    assert copy._version == 0 and x._version == 4


def test_in_place_on_a_leaf_that_requires_grad_raises_outside_no_grad():
    w = md.ones(3, requires_grad=True)
    for change in (lambda: w.add_(1), lambda: w.__iadd__(1), lambda: w.zero_(), lambda: w.__setitem__(0, 2.0)):
        with pytest.raises(RuntimeError, match="a leaf tensor that requires grad"):
            change()
    with pytest.raises(RuntimeError, match="a view of a leaf tensor that requires grad"):
        w[:2].mul_(2)
    with md.no_grad():
        w.add_(1)
    assert w.tolist() == [2.0, 2.0, 2.0] and w.is_leaf and w.requires_grad


def test_modifying_a_saved_tensor_before_backward_raises_naming_the_op_and_shape():
    x = md.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.exp()  # Exp saves its output
    y.add_(1)
    with pytest.raises(RuntimeError, match=r"Exp: one of the variables needed for gradient computation has "
                       r"been modified by an inplace operation: the tensor of shape \(3,\).*version 1; "
                       r"expected version 0"):
        y.sum().backward()


def test_an_optimizer_step_between_forward_and_backward_is_detected():
    w = md.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()  # Mul saves w
    with md.no_grad():
        w.sub_(0.5)
    with pytest.raises(RuntimeError, match="Mul: one of the variables needed"):
        loss.backward()


def test_ops_that_save_nothing_do_not_mind_later_writes():
    """Add saves no input, so writing into one afterwards is fine (as in torch)."""
    x = md.tensor([1.0, 2.0], requires_grad=True)
    a = x * 1
    y = a + 1
    a.mul_(3)
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_a_view_of_a_base_changed_in_place_gets_a_fresh_graph():
    for lib in (md, torch):
        x = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        y = x * 2
        row = y[0]
        y.mul_(x)  # row now shows 2x^2 and must differentiate as such
        (row * row).sum().backward()
        if lib is md:
            mine = x.grad.numpy().copy()
    np.testing.assert_allclose(mine, x.grad.numpy())


def test_broadcast_that_would_change_the_target_shape_raises():
    x = md.zeros(3)
    with pytest.raises(RuntimeError, match=r"add_: output with shape \(3,\) doesn't match the broadcast shape \(2, 3\)"):
        x.add_(md.ones(2, 3))
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        x += md.ones(2, 3)
    with pytest.raises(RuntimeError):
        torch.zeros(3).add_(torch.ones(2, 3))


def test_a_result_that_cannot_be_cast_to_the_target_dtype_raises():
    counts = md.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="div_: result type float32 can't be cast to the desired output type int64"):
        counts /= 2
    with pytest.raises(RuntimeError, match="can't be cast"):
        counts.add_(0.5)
    with pytest.raises(RuntimeError, match="can't be cast"):
        torch.tensor([1, 2, 3]).add_(0.5)
    counts += 1  # int into int is fine
    assert counts.tolist() == [2, 3, 4] and counts.dtype == np.int64
    halves = md.tensor([1.0, 2.0], dtype="float32")
    halves.add_(md.tensor([1.0, 1.0], dtype="float64"))  # same kind: cast down, as torch
    assert halves.dtype == np.float32 and halves.tolist() == [2.0, 3.0]


def test_writing_into_an_expanded_view_raises():
    wide = md.tensor([1.0, 2.0]).expand(3, 2)
    with pytest.raises(RuntimeError, match="share one memory location"):
        wide.add_(1)


def test_setitem_under_no_grad_writes_directly_and_records_nothing():
    x = md.zeros(2, 3)
    x[0] = md.tensor([1.0, 2.0, 3.0])
    x[1, 1:] = 7
    x[x > 2] = -1.0
    assert x.tolist() == [[1.0, 2.0, -1.0], [0.0, -1.0, -1.0]] and x.grad_fn is None
    with pytest.raises(IndexError, match=r"setitem: cannot write into a tensor of shape \(2, 3\)"):
        x[5] = 1.0


def test_in_place_with_an_operand_that_requires_grad_makes_a_plain_tensor_part_of_the_graph():
    w = md.tensor([1.0, 2.0], requires_grad=True)
    buffer = md.zeros(2)
    buffer.add_(w * w)
    assert buffer.requires_grad and not buffer.is_leaf
    buffer.sum().backward()
    assert w.grad.tolist() == [2.0, 4.0]


def test_retain_grad_follows_the_tensor_through_an_in_place_op():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    y.mul_(3)
    (y * y).sum().backward()
    tx = torch.tensor([1.0, 2.0], requires_grad=True)
    ty = tx * 2
    ty.retain_grad()
    ty.mul_(3)
    (ty * ty).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy())
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


def test_an_optimizer_step_before_backward_is_detected_as_in_torch():
    """Linear keeps the weight only when the input wants a gradient (as torch does), so a step
    between forward and backward is an error exactly when the weight's old value is needed."""
    for lib in (md, torch):
        model = lib.nn.Linear(3, 1)
        optimizer = lib.optim.SGD(model.parameters(), lr=0.1)
        version = model.weight._version
        optimizer.step()  # no gradients yet: nothing changes, nothing counted
        assert model.weight._version == version
        (model(lib.ones(2, 3)) ** 2).sum().backward()
        optimizer.step()
        assert model.weight._version == version + 1
        loss = (model(lib.ones(2, 3)) ** 2).sum()
        optimizer.step()
        loss.backward()  # the weight was not saved: fine in both
        x = lib.ones(2, 3, requires_grad=True)
        loss = (model(x) ** 2).sum()
        optimizer.step()
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            loss.backward()

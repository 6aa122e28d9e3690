"""Tutorial 01's last exercise: write the backward pass itself.

The learner's ``backward(loss)`` must visit every node of the graph behind ``loss`` once, each
only after all of its consumers have sent their gradient (a topological order, found by counting
consumers), and leave in every leaf's ``.grad`` what the engine's ``loss.backward()`` leaves.
The graphs are random, with diamonds (a value read by several ops) and reused nodes (``y * y``).
"""
import numpy as np

import minidl as md
from minidl.exercises.check import Exercise, Mismatch

LEAF_SHAPE = (2, 3)
UNARY = {"tanh": md.tanh, "sin": md.sin}
BINARY = {"add": lambda a, b: a + b, "mul": lambda a, b: a * b, "sub": lambda a, b: a - b}
FIXED_CASES = [
    ("a chain: loss = sum(tanh(a * b))", 2, [("mul", (0, 1)), ("tanh", (2,))]),
    ("a diamond: y = tanh(a), loss = sum(y * y + sin(y))", 1,
     [("tanh", (0,)), ("mul", (1, 1)), ("sin", (1,)), ("add", (2, 3))]),
    ("a reused leaf: loss = sum(a * a * b)", 2, [("mul", (0, 0)), ("mul", (2, 1))]),
]  # fmt: skip


def _random_recipe(rng, leaf_count=3, steps=8):
    """Ops reading recent values (so values get reused), redrawn until every leaf is read and
    some computed value has two or more readers (a diamond)."""
    while True:
        recipe = []
        for _ in range(steps):
            op = rng.choice(list(UNARY) + list(BINARY))
            known = leaf_count + len(recipe)
            arity = 1 if op in UNARY else 2
            recipe.append((str(op), tuple(int(i) for i in rng.integers(max(0, known - 4), known, size=arity))))
        reads = np.bincount([i for _, inputs in recipe for i in set(inputs)], minlength=leaf_count + steps)
        if reads[:leaf_count].all() and (reads[leaf_count:] >= 2).any():
            return recipe


def _cases(rng):
    for description, leaf_count, recipe in FIXED_CASES:
        yield description, (recipe, rng.standard_normal((leaf_count,) + LEAF_SHAPE))
    for number in range(3):
        recipe = _random_recipe(rng)
        steps = ", ".join(f"v{3 + k} = {op}({', '.join(f'v{i}' for i in inputs)})"
                          for k, (op, inputs) in enumerate(recipe))
        yield f"random graph {number + 1}: leaves v0-v2; {steps}", (recipe, rng.standard_normal((3,) + LEAF_SHAPE))


def build(recipe, leaf_values):
    """The graph of ``recipe`` on float64 leaves: ``(loss, leaves, names)``, where the loss adds up
    the sums of the values nothing reads, and ``names`` says which step made each node."""
    leaves = [md.tensor(value, dtype=md.float64, requires_grad=True) for value in leaf_values]
    values, names = list(leaves), {}
    for op, inputs in recipe:
        value = (UNARY.get(op) or BINARY[op])(*(values[i] for i in inputs))
        names[value.grad_fn] = f"v{len(values)} = {op}({', '.join(f'v{i}' for i in inputs)})"
        values.append(value)
    read = {i for _, inputs in recipe for i in inputs}
    loss = None
    for index in range(len(leaves), len(values)):
        if index not in read:
            total = values[index].sum()
            names[total.grad_fn] = f"the sum of v{index} in the loss"
            loss = total if loss is None else loss + total
            names.setdefault(loss.grad_fn, "an addition of the loss")
    return loss, leaves, names


def check_order(order, root, names):
    """Raise ``Mismatch`` unless ``order`` lists every node behind ``root`` once, each after all
    the nodes that read its output."""
    readers = {root: []}
    stack = [root]
    while stack:
        node = stack.pop()
        for parent in node.parents:
            if parent not in readers:
                readers[parent] = []
                stack.append(parent)
            readers[parent].append(node)
    if not isinstance(order, (list, tuple)):
        raise Mismatch(f"return the list of nodes whose backward you ran, in that order; got {type(order).__name__}")
    done = set()
    for position, node in enumerate(order):
        if node not in readers:
            raise Mismatch(f"item {position} of your order, {node!r}, is not a node of this graph")
        name = names.get(node, repr(node))
        if node in done:
            raise Mismatch(f"the node of {name} ran twice: run each node once, after all its consumers")
        waiting = [reader for reader in readers[node] if reader not in done]
        if waiting:
            raise Mismatch(
                f"the node of {name} ran before its consumer ({names.get(waiting[0], waiting[0])}) had sent "
                "its gradient: count each node's consumers first, run a node when its count reaches 0"
            )
        done.add(node)
    missing = [names.get(node, repr(node)) for node in readers if node not in done]
    if missing:
        raise Mismatch(f"the backward of {len(missing)} node(s) never ran, e.g. the node of {missing[0]}")


def _run(backward, recipe, leaf_values):
    loss, leaves, names = build(recipe, leaf_values)
    check_order(backward(loss), loss.grad_fn, names)
    for number, leaf in enumerate(leaves):
        if leaf.grad is None:
            raise Mismatch(f"leaf v{number} has no .grad: add each gradient that reaches a leaf into leaf.grad")
    return tuple(leaf.grad for leaf in leaves)


def _reference(recipe, leaf_values):
    loss, leaves, _ = build(recipe, leaf_values)
    loss.backward()
    return tuple(leaf.grad.numpy() for leaf in leaves)


EXERCISES = [
    Exercise("backward", "01 exercise 5",
             "backward(loss) -> the list of nodes in the order their backward ran; fills each leaf's .grad",
             _cases, _reference, run=_run),
]  # fmt: skip

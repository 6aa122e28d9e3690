"""An op's formulas for the backprop page, read from its Function's docstring, and the local
derivative of a scalar node with its numbers put in.

Every op's docstring starts with its formulas, forward then backward: ``out = a * b;  da = g * b,
db = g * a.`` (``g`` is the gradient arriving at the output; longer ones say ``Backward:``).
"""
import re

MORE_LINES = 8  # lines of the docstring shown after the formulas (LSTMStep's backward equations, ...)
INPUT_NAMES = "ab"  # how the elementwise ops' docstrings call their inputs
SCALAR_NAME = re.compile(r"\b(a|b|out|g)\b")


def formulas(function):
    """``{"forward": ..., "backward": ..., "more": ...}`` from the docstring of ``function``: its first
    paragraph split at ``Backward:`` (else at the first ";"), and the next lines of the docstring."""
    paragraphs = (function.__doc__ or "").strip().split("\n\n")
    first = re.sub(r"\s*\n\s*", " ", paragraphs[0])  # one line; the two spaces between clauses stay
    forward, marker, backward = first.partition("Backward:")
    if not marker:
        forward, _, backward = first.partition(";")
    more = [line.strip() for paragraph in paragraphs[1:] for line in paragraph.strip().splitlines()]
    return {"forward": forward.strip(), "backward": backward.strip(), "more": "\n".join(more[:MORE_LINES])}


def local_derivatives(backward_formula, inputs, output, grad, grads_sent):
    """For a node whose inputs and output are all numbers: per input, its clause of the backward
    formula with the numbers substituted and the result the engine computed, e.g.
    ``"da = g * b = 1 * 3 = 3"``; None for an input without a clause or without a gradient.

    ``inputs``: the input values (named a, b in order), ``output``: the op's value, ``grad``: the
    gradient arriving (g), ``grads_sent``: what the engine's backward returned per input."""
    if len(inputs) > len(INPUT_NAMES):
        return [None] * len(inputs)
    values = dict(zip(INPUT_NAMES, inputs), out=output, g=grad)
    clauses = {clause.split("=", 1)[0].strip(): clause for clause in re.split(r",\s{2,}", backward_formula.rstrip("."))}
    shown = []
    for name, sent in zip(INPUT_NAMES, grads_sent):
        clause = clauses.get("d" + name)
        if clause is None or sent is None:
            shown.append(None)
            continue
        right = clause.split("=", 1)[1].strip()
        numbers = SCALAR_NAME.sub(lambda m: _number(values[m[1]]) if m[1] in values else m[1], right)
        result = f"{float(sent):.4g}"
        shown.append(f"{clause.strip()} = {numbers}" + ("" if numbers == result else f" = {result}"))
    return shown


def _number(value):
    text = f"{float(value):.4g}"
    return f"({text})" if text.startswith("-") else text

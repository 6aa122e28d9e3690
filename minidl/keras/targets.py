"""Targets against outputs: the shapes each kind of loss needs, and what to do when ``y`` does
not fit, said in Keras's terms (the user's shapes, the last layer's name, the usual fix).

Kinds of loss: ``"sparse"`` (class labels: y has the output's shape without its last axis),
``"categorical"`` (one-hot rows: y has the output's shape), ``"binary"`` and ``"regression"``
(y has the output's shape, after Keras's rank matching: labels (n,) meet outputs (n, 1)).
"""
import numpy as np

from minidl import backend


def match_rank(y_shape, output_shape):
    """Keras's squeeze-or-expand: the shape y is read as, next to outputs of ``output_shape``
    (y (n,) against outputs (n, 1) becomes (n, 1); y (n, 1) against outputs (n,) becomes (n,))."""
    y_shape = tuple(y_shape)
    if len(output_shape) == len(y_shape) + 1 and output_shape[-1] == 1:
        return y_shape + (1,)
    if len(y_shape) == len(output_shape) + 1 and y_shape[-1] == 1:
        return y_shape[:-1]
    return y_shape


def expected_shape(kind, output_shape):
    """The targets' shape a loss of ``kind`` needs for outputs of ``output_shape``."""
    return tuple(output_shape[:-1]) if kind == "sparse" else tuple(output_shape)


def shape_problem(kind, y_shape, output_shape):
    """None when targets of ``y_shape`` fit outputs of ``output_shape`` (batch axes are not
    compared); otherwise what to do about it."""
    if kind is None:
        return None
    y_shape, output_shape = tuple(y_shape), tuple(output_shape)
    units = output_shape[-1]
    if kind == "sparse":
        if y_shape[1:] in (output_shape[1:-1], output_shape[1:-1] + (1,)):
            return None
        if len(y_shape) == len(output_shape) and y_shape[-1] == units:
            return 'one-hot targets need loss="categorical_crossentropy" (or class labels: y.argmax(axis=-1))'
        if len(output_shape) > 2 and len(y_shape) == 1:
            return "to classify whole samples, put Flatten() or GlobalAveragePooling2D() before the last Dense layer"
        return "y must hold one class label per sample"
    if match_rank(y_shape, output_shape)[1:] == output_shape[1:]:
        return None
    if kind == "categorical" and len(y_shape) == len(output_shape) - 1:
        return (f'integer class labels need loss="sparse_categorical_crossentropy", or one-hot targets: '
                f"y = md.keras.utils.to_categorical(y, {units})")
    if kind == "binary" and units != 1:
        return ("binary_crossentropy compares each output with a 0/1 target: end with Dense(1, activation='sigmoid'), "
                'or for several classes use loss="sparse_categorical_crossentropy"')
    if len(output_shape) > 2 and len(y_shape) <= 2:
        return "put Flatten() or GlobalAveragePooling2D() before the last Dense layer"
    if len(y_shape) == len(output_shape):
        return f"the output has {_units(units)} and y has {y_shape[-1]} columns: give the last layer {_units(y_shape[-1])}"
    return "y must have the output's shape"


def _units(count):
    return f"{count} unit{'s' if count != 1 else ''}"


def label_problem(labels, units, output_layer):
    """None when integer ``labels`` all lie in 0..units-1; otherwise what is wrong and what to do."""
    labels = np.asarray(labels)
    if labels.size == 0:
        return None
    if not np.issubdtype(labels.dtype, np.integer) and not np.all(labels == np.round(labels)):
        return "class labels must be whole numbers 0, 1, ..., classes - 1"
    low, high = int(labels.min()), int(labels.max())
    if low < 0:
        return f"class labels must be 0 or more, got {low}"
    if high < units:
        return None
    fix = (f"{output_layer} has {_units(units)} but the labels go up to {high}: "
           f"it needs one unit per class, e.g. Dense({high + 1}, activation='softmax')")
    if units == 1 and high == 1:
        fix += ", or keep Dense(1, activation='sigmoid') with loss=\"binary_crossentropy\""
    return fix


def targets_error(loss_name, expected, got, fix, output_layer=None):
    """The ValueError for targets of shape ``got`` where ``expected`` was needed."""
    where = f" to match the output of {output_layer}" if output_layer else ""
    return ValueError(f"{loss_name}: expected targets of shape {expected}{where}, got {got}; {fix}")


def as_targets(y, loss, output_shape, output_layer):
    """``y`` as ``loss`` reads it next to outputs of ``output_shape`` (batch axis None) from the
    layer named ``output_layer``: int64 labels for class labels, otherwise floats in the
    output's rank; a ValueError in Keras's terms when they cannot fit."""
    y = np.asarray(y)
    kind = loss.kind
    problem = shape_problem(kind, y.shape, output_shape)
    if problem is not None:
        raise targets_error(loss.name, expected_shape(kind, output_shape), y.shape, problem, output_layer)
    if kind == "sparse":
        labels = y[..., 0] if y.ndim == len(output_shape) else y
        problem = label_problem(labels, output_shape[-1], output_layer)
        if problem is not None:
            raise ValueError(f"{loss.name}: {problem}")
        return labels.astype(np.int64)
    return y.astype(backend.get_default_dtype(), copy=False).reshape(match_rank(y.shape, output_shape))

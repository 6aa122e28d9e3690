"""Layer: what every Keras-style layer shares.

Keras infers each layer's input size from the data, so a layer is made with its output settings
only (``Dense(64)``) and ``build(input_shape)`` creates the ``md.nn`` modules inside it the first
time it sees an input.  Shapes are Keras's: ``input_shape`` given to a layer is one sample's shape,
``(8, 8, 1)`` for 8x8 grey images; ``build`` receives it with the batch axis, ``(None, 8, 8, 1)``.

Weights live in the ``md.nn`` modules in PyTorch's layout; ``get_weights()`` and
``set_weights()`` speak Keras's (a Dense kernel is (in, units), PyTorch's weight (units, in)).

Called on KerasTensors (``Dense(8)(keras.Input(shape=(16,)))``, Keras's functional API), a layer
returns KerasTensors and records the call in ``inbound_nodes`` (see ``minidl.keras.symbolic``).
"""
import math

import numpy as np

from minidl import backend, nn
from minidl.keras import activations, symbolic
from minidl.keras.backend import unique_name
from minidl.keras.config import serialize


class Layer(nn.Module):
    """A Keras layer: ``build(input_shape)`` once, then ``call(x)`` and the ``activation``.

    - ``name``: Keras's name, by default from the class and a session counter (``dense_1``).
    - ``input_shape`` (or ``input_dim=n`` for ``(n,)``): the shape of one sample, given on the
      first layer of a model so that the model can be built before it sees data.
    - ``input_dtype``: ``"float"`` or ``"int"`` (token ids), what the model feeds this layer.
    - ``penalty()``: the sum of this layer's regularization terms, added to the loss.
    """

    input_dtype = "float"

    def __init__(self, activation=None, *, input_shape=None, input_dim=None, name=None, **unknown):
        super().__init__()
        if unknown:
            raise TypeError(f"Unrecognized keyword arguments passed to {type(self).__name__}: {unknown}")
        if input_shape is None and input_dim is not None:
            input_shape = (input_dim,)
        self.name = name or unique_name(type(self).__name__)
        self.activation_id, self.activation = activation, activations.get(activation)
        self.declared_input_shape = None if input_shape is None else tuple(input_shape)
        self.built_input_shape = self.built_output_shape = None
        self.built = False
        self.regularized = []
        self.inbound_nodes = []  # the calls on KerasTensors (symbolic.Node), in order

    # ------------------------------------------------------------------ what subclasses define
    def build(self, input_shape):
        """Create the weights for inputs of ``input_shape`` (batch axis first, None)."""

    def call(self, x):
        raise NotImplementedError(f"{type(self).__name__}: Keras layers must define call()")

    def accepts(self, shape):
        """Whether a batch of ``shape`` fits the layer as it was built (Keras's input spec)."""
        return True

    def keras_weights(self):
        """The weights as NumPy arrays in Keras's layout and order."""
        return []

    def assign_keras_weights(self, arrays):
        """Copy arrays in Keras's layout (as ``keras_weights`` returns them) into the weights."""

    def get_config(self):
        """The constructor's arguments as plain data (``from_config`` makes the layer again)."""
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # ------------------------------------------------------------------ running
    def __call__(self, *args, **kwargs):
        """On tensors (or arrays): the layer's output.  On KerasTensors: KerasTensors of the
        output's shape, the call recorded for ``keras.Model(inputs, outputs)``."""
        keras_tensors = symbolic.keras_tensors_in(args, kwargs)
        if not keras_tensors:
            return super().__call__(*args, **kwargs)
        if self.built and len(keras_tensors) == 1 and not self.accepts(symbolic.sample_shape(keras_tensors[0])):
            raise ValueError(input_mismatch(self, keras_tensors[0].shape))
        return symbolic.call(self, args, kwargs)

    def forward(self, x):
        shape = tuple(x.shape)
        if not self.built:
            self.built_input_shape = (None,) + shape[1:]
            self.build(self.built_input_shape)
            self.built = True
            self.apply_trainable()  # a layer frozen before it was built: freeze the new weights
        elif not self.accepts(shape):
            raise ValueError(input_mismatch(self, shape))
        y = self.call(x)
        return y if self.activation is None else self.activation(y)

    @property
    def input_shape(self):
        """The input's shape with the batch axis as None (known once built or declared)."""
        if self.built_input_shape is None and self.declared_input_shape is not None:
            return (None,) + self.declared_input_shape
        return self.built_input_shape

    @property
    def output_shape(self):
        """The output's shape with the batch axis as None (known once the model is built)."""
        return self.built_output_shape

    # ------------------------------------------------------------------ weights
    def get_weights(self):
        """The weights as a list of NumPy arrays in Keras's layout ([] before the layer is built)."""
        return [np.array(array) for array in self.keras_weights()] if self.built else []

    def set_weights(self, weights):
        """Overwrite the weights with ``weights``: as many arrays as ``get_weights()`` returns,
        of the same shapes (Keras's layout)."""
        current = self.get_weights()
        weights = [np.asarray(w) for w in weights]
        if len(weights) != len(current):
            raise ValueError(
                f"You called `set_weights(weights)` on layer '{self.name}' with a weight list of length "
                f"{len(weights)}, but the layer was expecting {len(current)} weights."
            )
        for old, new in zip(current, weights):
            if old.shape != new.shape:
                raise ValueError(
                    f"Layer {self.name} weight shape {old.shape} is not compatible with provided weight shape {new.shape}."
                )
        self.assign_keras_weights(weights)

    def regularize(self, weight, regularizer):
        """Add ``regularizer(weight)`` (if not None) to this layer's penalty; returns ``weight``."""
        if regularizer is not None:
            self.regularized.append((regularizer, weight))
        return weight

    def penalty(self):
        return sum(regularizer(weight) for regularizer, weight in self.regularized)

    def count_params(self):
        """The number of weights, trainable or frozen (Keras's count; not constant internals such
        as the second bias of a PyTorch RNN, which never requires grad)."""
        frozen = self.__dict__.get("frozen_weights", {})
        return sum(p.array.size for p in self.parameters() if p.requires_grad or id(p) in frozen)

    # ------------------------------------------------------------------ freezing
    @property
    def trainable(self):
        """Keras's switch: ``layer.trainable = False`` freezes the layer's weights.  They stop
        requiring grad (and drop their gradient), so ``fit`` leaves them as they are (set it before
        ``compile``, or compile again, as in Keras) and ``summary`` counts them as non-trainable;
        ``True`` makes them trainable again."""
        return self.__dict__.get("is_trainable", True)

    @trainable.setter
    def trainable(self, value):
        self.is_trainable = bool(value)
        self.apply_trainable()

    def apply_trainable(self):
        """Make the weights follow ``trainable``, remembering which ones were frozen here (by id),
        so that unfreezing leaves constant internals constant."""
        frozen = self.__dict__.setdefault("frozen_weights", {})
        if self.trainable:
            for weight in frozen.values():
                weight.requires_grad_(True)
            frozen.clear()
            return
        for weight in self.parameters():
            if weight.requires_grad:
                weight.requires_grad_(False)
                weight.grad = None
                frozen[id(weight)] = weight

    def base_config(self, **settings):
        """``get_config()`` of a subclass: the name, the activation if it has one, and ``settings``."""
        config = {**Layer.get_config(self), **settings}
        if self.activation_id is not None:
            config["activation"] = serialize(self.activation_id)
        return config

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def copy_into(parameter, array):
    """Write a NumPy ``array`` (already in PyTorch's layout) into ``parameter``'s data."""
    array = np.asarray(array, dtype=parameter.dtype)
    if array.shape != parameter.shape:
        raise ValueError(f"copy_into: expected shape {parameter.shape}, got {array.shape}")
    parameter.array[...] = backend.to_device(array, parameter.device)


# ---------------------------------------------------------------------- errors in Keras's terms
def check_rank(layer, input_shape, rank, layout):
    """A ValueError naming ``layer`` unless ``input_shape`` (batch axis included) has ``rank``
    axes; ``layout`` names them, e.g. ``"batch, height, width, channels"``."""
    if len(input_shape) != rank:
        hint = ""
        if len(input_shape) == rank - 1 and layout.endswith("channels"):
            sample = ", ".join(map(str, input_shape[1:]))
            hint = f"; for one-channel images add the channels axis: input_shape=({sample}, 1) and x[..., None]"
        raise ValueError(f"{layer.name}: expected input of shape ({layout}), got {input_shape}{hint}")


def check_window(layer, input_shape, image_size, window, what, padding="valid"):
    """A ValueError naming ``layer`` when a ``window`` (height, width) does not fit in images of
    ``image_size`` (height, width) with ``padding="valid"`` (the output would be empty)."""
    if padding == "valid" and any(size < k for size, k in zip(image_size, window)):
        raise ValueError(
            f"{layer.name}: the input of shape {input_shape} is smaller than {what}={tuple(window)}; "
            "use padding='same', a smaller window, or fewer pooling layers before it"
        )


def input_mismatch(layer, got):
    """The message for a batch of shape ``got`` that does not fit ``layer`` as it was built."""
    expected = layer.built_input_shape
    return f"{layer.name}: expected input of shape {expected}, got {got}{shape_hint(expected[1:], got)}"


def shape_hint(sample, got):
    """What to do when batches of ``got`` reach a layer built for samples of ``sample``."""
    if tuple(got) == tuple(sample):
        return "; one sample still needs the batch axis: x[None] (or np.expand_dims(x, 0))"
    if len(got) == len(sample) and tuple(got[1:]) == tuple(sample[:-1]) and sample[-1] == 1:
        return f"; add the channels axis: x.reshape(-1, {', '.join(map(str, sample))})"
    if len(got) == 4 and len(sample) == 3 and (got[1], got[2], got[3]) == (sample[2], sample[0], sample[1]):
        return ("; the data is channels-first (batch, channels, height, width), md.keras (like Keras) "
                "reads channels-last (batch, height, width, channels): x.transpose(0, 2, 3, 1)")
    if len(sample) == 1 and len(got) > 2 and None not in got[1:] and math.prod(got[1:]) == sample[0]:
        return "; flatten each sample first: put Flatten() before this layer, or x.reshape(len(x), -1)"
    return ""

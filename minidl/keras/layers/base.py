"""Layer: what every Keras-style layer shares.

Keras infers each layer's input size from the data, so a layer is made with its output settings
only (``Dense(64)``) and ``build(input_shape)`` creates the ``md.nn`` modules inside it the first
time it sees an input.  Shapes here leave out the batch axis: ``(8, 8, 1)`` for 8x8 grey images.
"""
from minidl import nn
from minidl.keras import activations


class Layer(nn.Module):
    """A Keras layer: ``build(input_shape)`` once, then ``call(x)`` and the ``activation``.

    - ``input_shape``: the shape of one sample, given on the first layer of a model so that
      the model can be built (and summarised) before it sees data.
    - ``input_dtype``: ``"float"`` or ``"int"`` (token ids), what the model feeds this layer.
    - ``penalty()``: the sum of this layer's regularization terms, added to the loss.
    """

    input_dtype = "float"

    def __init__(self, activation=None, input_shape=None):
        super().__init__()
        self.activation = activations.get(activation)
        self.input_shape = None if input_shape is None else tuple(input_shape)
        self.output_shape = None
        self.built = False
        self.regularized = []

    def build(self, input_shape):
        """Create the weights for samples of ``input_shape``; layers without weights need nothing."""

    def call(self, x):
        raise NotImplementedError(f"{type(self).__name__}: Keras layers must define call()")

    def forward(self, x):
        if not self.built:
            self.build(tuple(x.shape[1:]))
            self.built = True
        y = self.call(x)
        return y if self.activation is None else self.activation(y)

    def regularize(self, weight, regularizer):
        """Add ``regularizer(weight)`` (if not None) to this layer's penalty; returns ``weight``."""
        if regularizer is not None:
            self.regularized.append((regularizer, weight))
        return weight

    def penalty(self):
        return sum(regularizer(weight) for regularizer, weight in self.regularized)

    def count_params(self):
        """The number of trainable weights (Keras's count)."""
        return sum(p.data.size for p in self.parameters() if p.requires_grad)


def check_rank(layer, input_shape, rank, layout):
    """A ValueError naming ``layer`` unless samples have ``rank`` axes (``layout`` names them)."""
    if len(input_shape) != rank:
        raise ValueError(
            f"{layer}: expected input of shape (batch, {layout}), got samples of shape {input_shape}"
        )

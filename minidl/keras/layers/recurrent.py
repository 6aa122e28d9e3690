"""SimpleRNN, LSTM and GRU on batch-first sequences (batch, T, features), as Keras.

Each wraps the ``md.nn`` layer (``batch_first=True``) and returns the last step's output,
(batch, units), or every step's, (batch, T, units), with ``return_sequences=True``.

Keras's SimpleRNN and LSTM have one bias vector where PyTorch has two (``bias_ih`` and
``bias_hh``, which always appear as their sum).  Here ``bias_hh`` is held at zero and not
trained, so the model learns exactly Keras's parameters and ``summary()`` counts what Keras does.
GRU keeps both: Keras's GRU (``reset_after=True``, its default) has two bias vectors too.
"""
from minidl import nn
from minidl.keras.layers.base import Layer, check_rank


class Recurrent(Layer):
    """The shared part: subclasses set ``torch_class`` and ``single_bias``."""

    torch_class = None
    single_bias = True

    def __init__(self, units, return_sequences=False, input_shape=None, **torch_options):
        super().__init__(None, input_shape)
        self.units, self.return_sequences, self.torch_options = units, return_sequences, torch_options

    def build(self, input_shape):
        check_rank(type(self).__name__, input_shape, 2, "timesteps, features")
        self.rnn = self.torch_class(input_shape[-1], self.units, batch_first=True, **self.torch_options)
        if self.single_bias:
            self.rnn.bias_hh_l0.data[...] = 0
            self.rnn.bias_hh_l0.requires_grad = False

    def call(self, x):
        outputs, _ = self.rnn(x)
        return outputs if self.return_sequences else outputs[:, -1]


class SimpleRNN(Recurrent):
    """h_t = activation(x_t W^T + h_{t-1} U^T + b), activation ``"tanh"`` (default) or ``"relu"``."""

    torch_class = nn.RNN

    def __init__(self, units, activation="tanh", return_sequences=False, input_shape=None):
        if activation not in ("tanh", "relu"):
            raise ValueError(f"SimpleRNN: activation must be 'tanh' or 'relu', got {activation!r}")
        super().__init__(units, return_sequences, input_shape, nonlinearity=activation)


class LSTM(Recurrent):
    """Long short-term memory (gates i, f, c, o: Keras's order is PyTorch's i, f, g, o)."""

    torch_class = nn.LSTM

    def __init__(self, units, return_sequences=False, input_shape=None):
        super().__init__(units, return_sequences, input_shape)


class GRU(Recurrent):
    """Gated recurrent unit, Keras's ``reset_after=True`` form, which is PyTorch's."""

    torch_class = nn.GRU
    single_bias = False

    def __init__(self, units, return_sequences=False, input_shape=None):
        super().__init__(units, return_sequences, input_shape)

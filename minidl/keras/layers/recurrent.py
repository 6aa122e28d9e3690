"""SimpleRNN, LSTM and GRU on batch-first sequences (batch, T, features), as Keras.

Each wraps the ``md.nn`` layer (``batch_first=True``) and returns the last step's output,
(batch, units), or every step's, (batch, T, units), with ``return_sequences=True``.

Weights in Keras's layout (``get_weights()``), with g gates (1 for SimpleRNN, 4 for LSTM, 3 for GRU):

    kernel            (features, g * units)   PyTorch's weight_ih_l0 (g * units, features), transposed
    recurrent_kernel  (units, g * units)      PyTorch's weight_hh_l0, transposed
    bias              (g * units,)            PyTorch's bias_ih_l0  (GRU: (2, 3 * units), bias_ih and bias_hh)

LSTM's gates are in the same order in both (i, f, c/g, o); GRU's are z, r, h in Keras and r, z, n
in PyTorch, so their blocks are swapped on the way.  Keras's SimpleRNN and LSTM have one bias
where PyTorch has two (always added together): ``bias_hh`` is held at zero and not trained, so
the model learns exactly Keras's parameters.  GRU keeps both: Keras's GRU (``reset_after=True``,
its default) has two bias vectors too.

Initial values are Keras's: kernel Glorot-uniform, recurrent kernel orthogonal, bias zero (LSTM:
the forget gate's bias one, ``unit_forget_bias=True``).
"""
import numpy as np

from minidl import nn
from minidl.keras import initializers
from minidl.keras.config import serialize
from minidl.keras.layers.base import Layer, check_rank, copy_into


class Recurrent(Layer):
    """The shared part: subclasses set ``torch_class``, ``gates`` (PyTorch's gate blocks in
    Keras's order) and ``single_bias``."""

    torch_class = None
    gates = (0,)
    single_bias = True

    def __init__(self, units, use_bias=True, kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", return_sequences=False, torch_options=None, **kwargs):
        super().__init__(None, **kwargs)
        if not isinstance(units, int) or units <= 0:
            raise ValueError(f"{self.name}: units must be a positive integer, got {units!r}")
        self.units, self.use_bias, self.return_sequences = units, use_bias, return_sequences
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.torch_options = torch_options or {}

    def build(self, input_shape):
        check_rank(self, input_shape, 3, "batch, timesteps, features")
        self.rnn = self.torch_class(input_shape[-1], self.units, bias=self.use_bias, batch_first=True,
                                    **self.torch_options)
        if self.use_bias and self.single_bias:
            self.rnn.bias_hh_l0.requires_grad = False
        width = len(self.gates) * self.units
        initial = [self.kernel_initializer((input_shape[-1], width)), self.recurrent_initializer((self.units, width))]
        self.assign_keras_weights(initial + ([self.initial_bias()] if self.use_bias else []))

    def initial_bias(self):
        return self.bias_initializer((len(self.gates) * self.units,))

    def accepts(self, shape):
        return len(shape) == 3 and shape[-1] == self.built_input_shape[-1]

    def call(self, x):
        outputs, _ = self.rnn(x)
        return outputs if self.return_sequences else outputs[:, -1]

    # -------------------------------------------------------------- Keras's layout
    def reorder(self, array, axis=0):
        """PyTorch's gate blocks along ``axis`` in Keras's order (GRU: r, z, n -> z, r, h)."""
        blocks = np.split(array, len(self.gates), axis=axis)
        return np.concatenate([blocks[g] for g in self.gates], axis=axis)

    def restore_order(self, array, axis=0):
        """The inverse of ``reorder``: Keras's gate blocks in PyTorch's order."""
        blocks = np.split(array, len(self.gates), axis=axis)
        return np.concatenate([blocks[g] for g in np.argsort(self.gates)], axis=axis)

    def keras_weights(self):
        rnn = self.rnn
        weights = [self.reorder(rnn.weight_ih_l0.numpy()).T, self.reorder(rnn.weight_hh_l0.numpy()).T]
        if self.use_bias:
            biases = [self.reorder(rnn.bias_ih_l0.numpy())]
            if not self.single_bias:
                biases.append(self.reorder(rnn.bias_hh_l0.numpy()))
            weights.append(biases[0] if self.single_bias else np.stack(biases))
        return weights

    def assign_keras_weights(self, arrays):
        rnn = self.rnn
        copy_into(rnn.weight_ih_l0, self.restore_order(np.asarray(arrays[0]).T))
        copy_into(rnn.weight_hh_l0, self.restore_order(np.asarray(arrays[1]).T))
        if self.use_bias:
            bias = np.asarray(arrays[2])
            copy_into(rnn.bias_ih_l0, self.restore_order(bias if self.single_bias else bias[0]))
            copy_into(rnn.bias_hh_l0, np.zeros(rnn.bias_hh_l0.shape) if self.single_bias else self.restore_order(bias[1]))

    def get_config(self):
        return self.base_config(units=self.units, use_bias=self.use_bias,
                                kernel_initializer=serialize(self.kernel_initializer),
                                recurrent_initializer=serialize(self.recurrent_initializer),
                                bias_initializer=serialize(self.bias_initializer),
                                return_sequences=self.return_sequences)


def check_fixed(layer_class, argument, value, computed):
    """md.nn's recurrent layers compute one activation: accept only that one."""
    if value != computed:
        raise ValueError(f"{layer_class}: md.keras computes {argument}={computed!r} only, got {value!r}")


class SimpleRNN(Recurrent):
    """h_t = activation(x_t kernel + h_{t-1} recurrent_kernel + bias), ``"tanh"`` or ``"relu"``."""

    torch_class = nn.RNN

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", return_sequences=False, **kwargs):
        if activation not in ("tanh", "relu"):
            raise ValueError(f"SimpleRNN: activation must be 'tanh' or 'relu', got {activation!r}")
        self.rnn_activation = activation
        super().__init__(units, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
                         return_sequences, torch_options={"nonlinearity": activation}, **kwargs)

    def get_config(self):
        return {**super().get_config(), "activation": self.rnn_activation}


class LSTM(Recurrent):
    """Long short-term memory; gates i, f, c, o (Keras's order is PyTorch's i, f, g, o)."""

    torch_class = nn.LSTM
    gates = (0, 1, 2, 3)

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, return_sequences=False, **kwargs):
        check_fixed("LSTM", "activation", activation, "tanh")
        check_fixed("LSTM", "recurrent_activation", recurrent_activation, "sigmoid")
        self.unit_forget_bias = unit_forget_bias
        super().__init__(units, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
                         return_sequences, **kwargs)

    def initial_bias(self):
        """With ``unit_forget_bias``: the forget gate's bias starts at one, the others as
        ``bias_initializer`` says (Keras)."""
        if not self.unit_forget_bias:
            return super().initial_bias()
        units = self.units
        return np.concatenate([self.bias_initializer((units,)), np.ones(units, dtype=np.float32),
                               self.bias_initializer((2 * units,))])

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRU(Recurrent):
    """Gated recurrent unit, Keras's ``reset_after=True`` form, which is PyTorch's."""

    torch_class = nn.GRU
    gates = (1, 0, 2)  # Keras's z, r, h are PyTorch's blocks 1, 0, 2 (r, z, n)
    single_bias = False

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 return_sequences=False, reset_after=True, **kwargs):
        check_fixed("GRU", "activation", activation, "tanh")
        check_fixed("GRU", "recurrent_activation", recurrent_activation, "sigmoid")
        check_fixed("GRU", "reset_after", reset_after, True)
        super().__init__(units, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
                         return_sequences, **kwargs)

    def initial_bias(self):
        return self.bias_initializer((2, 3 * self.units))

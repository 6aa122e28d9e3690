"""Sequential: a stack of Keras-style layers with ``compile``, ``fit``, ``evaluate``, ``predict``.

It is an ``md.nn.Module`` whose children are the layers, and it trains through ``md.train.fit``:

    model = Sequential([Dense(64, activation="relu", input_shape=(20,)), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=5, validation_split=0.2)
    history.history["val_accuracy"]
"""
import re

from minidl import creation, nn, train
from minidl.autograd import no_grad
from minidl.keras import losses, metrics, optimizers
from minidl.keras.arrays import as_inputs, as_targets, batches, split_off_validation
from minidl.keras.layers.base import Layer
from minidl.keras.summary import summary_text
from minidl.serialization import load, save


class Sequential(nn.Module):
    """Layers applied one after the other; the model is built (its weights made) from the first
    layer's ``input_shape``, or from the first data it sees."""

    def __init__(self, layers=None):
        super().__init__()
        self.compiled = None
        for layer in layers or ():
            self.add(layer)

    # -------------------------------------------------------------- the stack
    def add(self, layer):
        """Append ``layer``; the model is built at once if it now knows its input shape."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add: expected a layer of md.keras.layers, got {type(layer).__name__}")
        self.add_module(str(len(self._modules)), layer)
        first = self.layers[0]
        if first.input_shape is not None and not self.built:
            self.build(first.input_shape)

    @property
    def layers(self):
        return list(self._modules.values())

    def named_layers(self):
        """(Keras's name such as ``dense_1`` or ``max_pooling2d``, layer) for each layer."""
        counts = {}
        for layer in self.layers:
            kind = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", type(layer).__name__).lower()
            counts[kind] = counts.get(kind, 0) + 1
            yield (kind if counts[kind] == 1 else f"{kind}_{counts[kind] - 1}"), layer

    @property
    def built(self):
        return bool(self._modules) and all(layer.output_shape is not None for layer in self.layers)

    def build(self, input_shape):
        """Make every layer's weights by running one all-zero sample of ``input_shape`` through
        the stack (without gradients), recording each layer's output shape."""
        first = self.layers[0]
        dtype = "int64" if first.input_dtype == "int" else None
        x = creation.zeros((1,) + tuple(input_shape), dtype=dtype)
        with no_grad():
            for layer in self.layers:
                x = layer(x)
                layer.output_shape = tuple(x.shape[1:])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def penalty(self):
        """The regularization terms of all layers (0 when there are none)."""
        return sum(layer.penalty() for layer in self.layers)

    def summary(self):
        """Print the layer table: names, output shapes, parameter counts."""
        if not self.built:
            raise ValueError("summary: the model is not built yet; give the first layer an input_shape or call fit first")
        print(summary_text(self))

    # -------------------------------------------------------------- training
    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        """Choose the optimizer (a name or an ``md.keras.optimizers`` object), the loss (a name)
        and the metrics (names such as ``"accuracy"``) for ``fit`` and ``evaluate``."""
        self.compiled = Compiled(optimizers.get(optimizer), loss, losses.get(loss), metrics)

    def _inputs(self, caller, x):
        """``x`` as an array the first layer reads, the model built from it if it was not yet."""
        if not self._modules:
            raise ValueError(f"{caller}: the model has no layers; add them with Sequential([...]) or model.add(layer)")
        x = as_inputs(x, self.layers[0].input_dtype)
        if not self.built:
            self.build(x.shape[1:])
        return x

    def _compiled(self, caller):
        if self.compiled is None:
            raise RuntimeError(f"{caller}: the model must be compiled first: model.compile(optimizer, loss)")
        return self.compiled

    def fit(self, x, y, batch_size=32, epochs=1, verbose=1, callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True):
        """Train for ``epochs`` passes over ``(x, y)``; returns a ``History`` whose ``history``
        dict has ``loss``, the metrics and, with validation data, ``val_loss`` and ``val_...``."""
        compiled = self._compiled("fit")
        x, y = self._inputs("fit", x), as_targets(y, compiled.loss_name)
        if validation_data is None and validation_split:
            (x, y), validation_data = split_off_validation(x, y, validation_split)
        val_loader = None
        if validation_data is not None:
            x_val, y_val = validation_data[:2]
            val_loader = batches(self._inputs("fit", x_val), as_targets(y_val, compiled.loss_name), batch_size)
        return train.fit(self, compiled.loss_with_penalty(self), compiled.optimizer_for(self),
                         batches(x, y, batch_size, shuffle), epochs=epochs, val_data=val_loader,
                         callbacks=callbacks or (), metrics=compiled.metrics, verbose=bool(verbose))

    def evaluate(self, x, y, batch_size=32, verbose=0):
        """The loss on ``(x, y)``, or ``[loss, metric, ...]`` when metrics were compiled."""
        compiled = self._compiled("evaluate")
        data = batches(self._inputs("evaluate", x), as_targets(y, compiled.loss_name), batch_size)
        values = list(train.evaluate(self, compiled.loss_with_penalty(self), data, compiled.metrics).values())
        return values if len(values) > 1 else values[0]

    def predict(self, x, batch_size=32, verbose=0):
        """The model's outputs for ``x`` as a NumPy array (dropout off)."""
        return train.predict(self, self._inputs("predict", x), batch_size)

    # -------------------------------------------------------------- weights
    def save_weights(self, filepath):
        """Write the weights to ``filepath`` with ``md.save``."""
        save(self.state_dict(), filepath)

    def load_weights(self, filepath):
        """Read weights written by ``save_weights`` or by a ``ModelCheckpoint``."""
        if not self.built:
            raise ValueError("load_weights: the model is not built yet; give the first layer an input_shape or call fit")
        state = load(filepath)
        self.load_state_dict(state["model"] if "model" in state and "epoch" in state else state)


class Compiled:
    """What ``compile`` chose: the optimizer settings (the ``md.optim`` optimizer is made at the
    first ``fit``, once the weights exist, and kept afterwards), the loss and the metrics."""

    def __init__(self, optimizer, loss_name, loss, metric_names):
        self.optimizer, self.loss_name, self.loss = optimizer, loss_name, loss
        self.metrics = metrics.resolve(metric_names, loss_name)
        self.torch_optimizer = None

    def optimizer_for(self, model):
        if self.torch_optimizer is None:
            self.torch_optimizer = self.optimizer.build([p for p in model.parameters() if p.requires_grad])
        return self.torch_optimizer

    def loss_with_penalty(self, model):
        """``loss(outputs, targets) + model.penalty()``: the loss Keras reports and trains on."""
        def loss_fn(outputs, targets):
            return self.loss(targets, outputs) + model.penalty()
        return loss_fn

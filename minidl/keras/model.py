"""keras.Model: what every md.keras model has, written once: ``compile``, ``fit``, ``evaluate``,
``predict``, ``summary``, ``get_weights``/``set_weights``, ``save``/``save_weights``/``load_weights``.

Two kinds of model build on it, as in Keras: ``keras.Sequential([...])`` (``models.py``), a stack
of layers, and ``keras.Model(inputs, outputs)`` (``functional.py``), a graph of layers called on
``keras.Input`` placeholders (``keras.Model(...)`` makes a ``Functional``, Keras's class for it).
A model is an ``md.nn.Module`` whose children are its layers, and it trains through
``md.train.fit``.

What a kind of model gives: ``layers``, ``built``, ``output_shape``, ``forward``,
``_inputs(caller, x)`` (``x`` as the one array ``forward`` reads, the model built from it if it
was not yet), ``_output_layer_name(caller)`` (named in the targets' errors),
``summary_columns()`` and ``get_config``/``from_config``.
"""
from minidl import nn, train
from minidl.keras.arrays import batches, split_off_validation
from minidl.keras.compiled import Compiled
from minidl.keras.generators import BatchStream, inputs_of, is_batch_source, unpack
from minidl.keras.saving import save_model
from minidl.keras.summary import summary_text
from minidl.keras.targets import as_targets
from minidl.serialization import load, save

DEFAULT_BATCH_SIZE = 32


class Model(nn.Module):
    """Keras's Model.  ``keras.Model(inputs, outputs, name=None)`` builds a functional model."""

    def __new__(cls, *args, **kwargs):
        if cls is Model:
            from minidl.keras.functional import Functional  # imported here: Functional is itself a Model
            cls = Functional
        return super().__new__(cls)

    def __init__(self, name):
        super().__init__()
        self.name = name
        self.compiled = None

    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            f"{self.name}: md.keras does not support subclassing keras.Model (a call() method of your own); "
            "build the model with keras.Model(inputs, outputs) or keras.Sequential([...])"
        )

    # -------------------------------------------------------------- the layers
    def get_layer(self, name=None, index=None):
        """The layer called ``name``, or at position ``index``."""
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"{self.name}: no layer named {name!r}; the layers are {[layer.name for layer in self.layers]}")

    def penalty(self):
        """The regularization terms of all layers (0 when there are none)."""
        return sum(layer.penalty() for layer in self.layers)

    def count_params(self):
        return sum(layer.count_params() for layer in self.layers)

    def summary(self):
        """Print the layer table: names, output shapes, parameter counts."""
        if not self.built:
            raise ValueError(
                f"summary: the model {self.name} is not built yet; start it with keras.Input(shape=...), give the "
                "first layer an input_shape, or call fit first"
            )
        print(summary_text(self))

    # -------------------------------------------------------------- training
    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        """Choose the optimizer (a name or an ``md.keras.optimizers`` object), the loss (a name,
        a ``keras.losses`` object or a function) and the metrics (names such as ``"accuracy"``)."""
        self.compiled = Compiled(optimizer, loss, metrics)

    def _compiled(self, caller):
        if self.compiled is None:
            raise RuntimeError(f"{caller}: the model must be compiled first: model.compile(optimizer, loss)")
        if self.compiled.loss is None:
            raise ValueError(f"{caller}: no loss to compute; give one to compile, e.g. loss=\"sparse_categorical_crossentropy\"")
        return self.compiled

    def _pair(self, caller, x, y, compiled):
        """``(x, y)`` checked against the model in Keras's terms (the model built from ``x`` if
        it was not yet): inputs the model reads, targets the loss reads."""
        x = self._inputs(caller, x)
        return x, as_targets(y, compiled.loss, self.output_shape, self._output_layer_name(caller))

    def _data(self, caller, x, y, compiled, batch_size, shuffle=False, steps=None, steps_name="steps"):
        """The batches of ``(x, y)``, or of the generator or Sequence ``x`` (``steps`` per epoch),
        each checked against the model, and the targets' shape (which picks the metrics)."""
        if is_batch_source(x):
            if y is not None:
                raise ValueError(f"{caller}: y must be None when x is a generator or Sequence: it gives (x, y) batches")
            def convert(batch):
                return self._pair(caller, *unpack(caller, batch), compiled)
            stream = BatchStream(caller, x, steps, steps_name, convert, shuffle)
            return stream, stream.peek()[1].shape
        if steps is not None:
            raise ValueError(f"{caller}: {steps_name} is for generators and Sequences; arrays are cut by batch_size")
        if y is None:
            raise ValueError(f"{caller}: y is missing; give the targets as y, or x as a generator or Sequence of "
                             "(x, y) batches")
        x, y = self._pair(caller, x, y, compiled)
        return batches(x, y, batch_size or DEFAULT_BATCH_SIZE, shuffle), y.shape

    def fit(self, x, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, *, steps_per_epoch=None, validation_steps=None):
        """Train for ``epochs`` passes over ``(x, y)``, or over ``steps_per_epoch`` batches of the
        generator or Sequence ``x``; returns a ``History`` whose ``history`` dict has ``loss``,
        the metrics and, with validation data (arrays ``(x, y)``, a generator or a Sequence),
        ``val_loss`` and ``val_...``."""
        compiled = self._compiled("fit")
        if validation_data is None and validation_split:
            if is_batch_source(x):
                raise ValueError("fit: validation_split is only supported for NumPy arrays, not a generator or "
                                 "Sequence; give validation_data instead")
            (x, y), validation_data = split_off_validation(self._inputs("fit", x), y, validation_split)
        train_data, target_shape = self._data("fit", x, y, compiled, batch_size, shuffle, steps_per_epoch,
                                              "steps_per_epoch")
        val_data = None
        if is_batch_source(validation_data):
            val_data, _ = self._data("fit (validation_data)", validation_data, None, compiled, batch_size,
                                     steps=validation_steps, steps_name="validation_steps")
        elif validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError(
                    "fit: validation_data must be a tuple (x_val, y_val) (or a generator or Sequence), "
                    f"got {type(validation_data).__name__}"
                    + (f" of length {len(validation_data)}" if isinstance(validation_data, (tuple, list)) else "")
                )
            val_data, _ = self._data("fit (validation_data)", *validation_data[:2], compiled, batch_size)
        return train.fit(self, compiled.loss_with_penalty(self), compiled.optimizer_for(self), train_data,
                         epochs=epochs, val_data=val_data, callbacks=callbacks or (),
                         metrics=compiled.metrics_for(target_shape, self.output_shape), verbose=bool(verbose))

    def evaluate(self, x, y=None, batch_size=None, verbose="auto", *, steps=None):
        """The loss on ``(x, y)`` (or ``steps`` batches of a generator or Sequence ``x``), or
        ``[loss, metric, ...]`` when metrics were compiled."""
        compiled = self._compiled("evaluate")
        data, target_shape = self._data("evaluate", x, y, compiled, batch_size, steps=steps)
        logs = train.evaluate(self, compiled.loss_with_penalty(self), data,
                              compiled.metrics_for(target_shape, self.output_shape))
        values = list(logs.values())
        return values if len(values) > 1 else values[0]

    def predict(self, x, batch_size=None, verbose="auto", steps=None):
        """The model's outputs for ``x`` as a NumPy array (dropout off); ``x`` may be a generator
        or Sequence of batches ``x`` or ``(x, y)`` (``steps`` of them)."""
        if is_batch_source(x):
            return self._predict(BatchStream("predict", x, steps, "steps",
                                             lambda batch: self._inputs("predict", inputs_of(batch))), None)
        if steps is not None:
            raise ValueError("predict: steps is for generators and Sequences; arrays are cut by batch_size")
        return self._predict(self._inputs("predict", x), batch_size or DEFAULT_BATCH_SIZE)

    def _predict(self, data, batch_size):
        """``md.train.predict`` of the model on ``data`` (an array, or batches: ``batch_size`` None)."""
        return train.predict(self, data, batch_size)

    # -------------------------------------------------------------- weights and files
    def get_weights(self):
        """Every layer's ``get_weights()``, one list, in order (Keras's layouts)."""
        return [array for layer in self.layers for array in layer.get_weights()]

    def set_weights(self, weights):
        """Overwrite all weights from one list, as ``get_weights()`` returns it."""
        weights = list(weights)
        counts = [len(layer.get_weights()) for layer in self.layers]
        if len(weights) != sum(counts):
            raise ValueError(
                f"You called `set_weights(weights)` on layer '{self.name}' with a weight list of length "
                f"{len(weights)}, but the layer was expecting {sum(counts)} weights."
            )
        start = 0
        for layer, count in zip(self.layers, counts):
            layer.set_weights(weights[start : start + count])
            start += count

    def save_weights(self, filepath):
        """Write the weights to ``filepath`` with ``md.save``."""
        save(self.state_dict(), filepath)

    def load_weights(self, filepath):
        """Read weights written by ``save_weights``, a ``ModelCheckpoint`` or ``save``."""
        if not self.built:
            raise ValueError("load_weights: the model is not built yet; give the first layer an input_shape or call fit")
        state = load(filepath)
        if isinstance(state, dict) and state.get("format") == "md.keras":
            self.set_weights([array for arrays in state["weights"] for array in arrays])
            return
        self.load_state_dict(state["model"] if "model" in state and "epoch" in state else state)

    def save(self, filepath):
        """Write the architecture, weights, compile settings and optimizer state to ``filepath``
        (one ``.npz`` archive, whatever the suffix); ``keras.models.load_model`` reads it."""
        save_model(self, filepath)

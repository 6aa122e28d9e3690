"""Sequential: a stack of Keras-style layers with ``compile``, ``fit``, ``evaluate``, ``predict``,
``get_weights``/``set_weights`` and ``save``; ``load_model`` reads a saved model back.

It is an ``md.nn.Module`` whose children are the layers, and it trains through ``md.train.fit``:

    model = Sequential([keras.Input(shape=(20,)), Dense(64, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=5, validation_split=0.2)
    history.history["val_accuracy"]
    model.save("model.keras");  model = keras.models.load_model("model.keras")
"""
from minidl import creation, nn, train
from minidl.autograd import no_grad
from minidl.keras import layers as layers_module
from minidl.keras import losses, metrics, optimizers
from minidl.keras.arrays import as_inputs, batches, split_off_validation
from minidl.keras.backend import unique_name
from minidl.keras.config import deserialize, serialize, with_custom_objects
from minidl.keras.generators import BatchStream, inputs_of, is_batch_source, unpack
from minidl.keras.layers.base import Layer
from minidl.keras.layers.input import InputLayer, KerasTensor
from minidl.keras.saving import read_model_file, save_model
from minidl.keras.summary import summary_text
from minidl.keras.targets import as_targets
from minidl.serialization import load, save

DEFAULT_BATCH_SIZE = 32


class Sequential(nn.Module):
    """Layers applied one after the other.  The model is built (its weights made) as soon as it
    knows the shape of one sample: from ``keras.Input(shape=...)`` as its first entry, from the
    first layer's ``input_shape=``, from ``build((None, ...))``, or from the first data it sees."""

    def __init__(self, layers=None, name=None):
        super().__init__()
        self.name = name or unique_name("Sequential")
        self.input = None  # the KerasTensor of keras.Input, if one was given
        self.built_input_shape = None
        self.compiled = None
        for layer in layers or ():
            self.add(layer)

    # -------------------------------------------------------------- the stack
    def add(self, layer):
        """Append ``layer`` (or declare the input with ``keras.Input``); the model is built at
        once if it now knows its input shape."""
        if isinstance(layer, InputLayer):
            layer = layer.output
        if isinstance(layer, KerasTensor):
            if self._modules or self.input is not None:
                raise ValueError(f"{self.name}: keras.Input(...) must be the first entry of the model, before its layers")
            self.input = layer
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add: expected a layer of md.keras.layers, got {type(layer).__name__}")
        if any(other.name == layer.name for other in self.layers):
            raise ValueError(
                f"All layers added to a Sequential model should have unique names. Name '{layer.name}' is already "
                "the name of a layer in this model. Update the `name` argument to pass a unique name."
            )
        self.add_module(str(len(self._modules)), layer)
        declared = self.declared_input_shape()
        if declared is not None and not self.built:
            self.build(declared)

    @property
    def layers(self):
        return list(self._modules.values())

    def get_layer(self, name=None, index=None):
        """The layer called ``name``, or at position ``index``."""
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"{self.name}: no layer named {name!r}; the layers are {[layer.name for layer in self.layers]}")

    def declared_input_shape(self):
        """The input shape (batch axis None) from keras.Input or the first layer, or None."""
        if self.input is not None:
            return self.input.shape
        return self.layers[0].input_shape if self._modules else None

    @property
    def input_dtype(self):
        if self.input is not None and self.input.dtype is not None:
            return self.input.input_dtype
        return self.layers[0].input_dtype

    @property
    def built(self):
        return bool(self._modules) and all(layer.output_shape is not None for layer in self.layers)

    @property
    def input_shape(self):
        return self.built_input_shape or self.declared_input_shape()

    @property
    def output_shape(self):
        return self.layers[-1].output_shape if self.built else None

    def build(self, input_shape=None):
        """Make every layer's weights for inputs of ``input_shape`` (batch axis first, e.g.
        ``(None, 784)``) by running one all-zero sample through the stack (without gradients),
        recording each layer's output shape."""
        input_shape = input_shape or self.declared_input_shape()
        if input_shape is None:
            raise ValueError(f"{self.name}.build: give the input shape, e.g. model.build((None, 784))")
        if not self._modules:
            raise ValueError(f"{self.name}.build: the model has no layers")
        sample = tuple(input_shape[1:])
        x = creation.zeros((1,) + sample, dtype="int64" if self.input_dtype == "int" else None)
        with no_grad():
            for layer in self.layers:
                x = layer(x)
                layer.built_output_shape = (None,) + tuple(x.shape[1:])
        self.built_input_shape = (None,) + sample

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

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

    def _inputs(self, caller, x):
        """``x`` as an array the first layer reads, the model built from it if it was not yet."""
        if not self._modules:
            raise ValueError(f"{caller}: the model has no layers; add them with Sequential([...]) or model.add(layer)")
        x = as_inputs(caller, x, self.input_dtype)
        if not self.built:
            self.build((None,) + x.shape[1:])
        return x

    def _compiled(self, caller):
        if self.compiled is None:
            raise RuntimeError(f"{caller}: the model must be compiled first: model.compile(optimizer, loss)")
        if self.compiled.loss is None:
            raise ValueError(f"{caller}: no loss to compute; give one to compile, e.g. loss=\"sparse_categorical_crossentropy\"")
        return self.compiled

    def _pair(self, caller, x, y, compiled):
        """``(x, y)`` checked against the model in Keras's terms (the model built from ``x`` if
        it was not yet): inputs the first layer reads, targets the loss reads."""
        x = self._inputs(caller, x)
        return x, as_targets(y, compiled.loss, self.output_shape, self.layers[-1].name)

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
            (x, y), validation_data = split_off_validation(x, y, validation_split)
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
            return train.predict(self, BatchStream("predict", x, steps, "steps",
                                                   lambda batch: self._inputs("predict", inputs_of(batch))))
        if steps is not None:
            raise ValueError("predict: steps is for generators and Sequences; arrays are cut by batch_size")
        return train.predict(self, self._inputs("predict", x), batch_size or DEFAULT_BATCH_SIZE)

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

    def get_config(self):
        config = {"name": self.name, "layers": [serialize(layer) for layer in self.layers],
                  "build_input_shape": self.built_input_shape}
        if self.input is not None:
            config["input"] = {"shape": self.input.shape, "dtype": self.input.dtype, "name": self.input.name}
        return config

    @classmethod
    def from_config(cls, config):
        model = cls(name=config["name"])
        if config.get("input") is not None:
            model.add(KerasTensor(**config["input"]))
        for layer in config["layers"]:
            model.add(deserialize(layer, layers_module.KNOWN, "load_model: layer"))
        if not model.built and config.get("build_input_shape") is not None:
            model.build(tuple(config["build_input_shape"]))
        return model


def load_model(filepath, custom_objects=None, compile=True):
    """The model ``model.save(filepath)`` wrote, with its weights and (with ``compile=True``)
    compiled as it was, optimizer state included.  Functions and classes of your own (a loss,
    an activation) are given back by name in ``custom_objects={"name": object}``."""
    saved = read_model_file(filepath)
    config = with_custom_objects(saved["config"], custom_objects)
    model = Sequential.from_config(config["config"])
    model.set_weights([array for arrays in saved["weights"] for array in arrays])
    compile_config = saved["compile_config"]
    if compile and compile_config is not None:
        model.compile(**with_custom_objects(compile_config, custom_objects))
        if saved["optimizer_state"] is not None:
            model.compiled.optimizer_for(model).load_state_dict(saved["optimizer_state"])
    return model


class Compiled:
    """What ``compile`` chose: the optimizer settings (the ``md.optim`` optimizer is made at the
    first ``fit``, once the weights exist, and kept afterwards), the loss and the metrics."""

    def __init__(self, optimizer, loss, metric_names):
        self.given = {"optimizer": optimizer, "loss": loss, "metrics": metrics.check(metric_names)}
        self.optimizer = optimizers.get(optimizer)
        self.loss = None if loss is None else losses.get(loss)
        self.metric_names = self.given["metrics"]
        self.torch_optimizer = None

    def metrics_for(self, target_shape, output_shape):
        return metrics.resolve(self.metric_names, target_shape, output_shape)

    def optimizer_for(self, model):
        if self.torch_optimizer is None:
            self.torch_optimizer = self.optimizer.build([p for p in model.parameters() if p.requires_grad])
        return self.torch_optimizer

    def loss_with_penalty(self, model):
        """``loss(outputs, targets) + model.penalty()``: the loss Keras reports and trains on."""
        def loss_fn(outputs, targets):
            return self.loss(targets, outputs) + model.penalty()
        return loss_fn

    def get_config(self):
        """The arguments of ``compile`` as plain data (functions of your own by name)."""
        return {"optimizer": serialize(self.optimizer), "loss": serialize(self.given["loss"]),
                "metrics": [serialize(metric) for metric in self.metric_names]}

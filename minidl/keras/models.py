"""keras.Sequential (a stack of layers), ``keras.Model`` (the functional API, ``functional.py``)
and ``load_model``, which reads either back from ``model.save``.

Both are ``keras.Model``s (``model.py``: ``compile``, ``fit``, ``evaluate``, ``predict``,
``get_weights``/``set_weights``, ``save``), ``md.nn.Module``s whose children are the layers:

    model = Sequential([keras.Input(shape=(20,)), Dense(64, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=5, validation_split=0.2)
    history.history["val_accuracy"]
    model.save("model.keras");  model = keras.models.load_model("model.keras")
"""
from minidl import creation
from minidl.autograd import no_grad
from minidl.keras import layers as layers_module
from minidl.keras.arrays import as_inputs
from minidl.keras.backend import unique_name
from minidl.keras.config import deserialize, serialize, with_custom_objects
from minidl.keras.functional import Functional
from minidl.keras.layers.base import Layer
from minidl.keras.layers.input import InputLayer, KerasTensor
from minidl.keras.model import Model  # keras.models.Model, as in Keras
from minidl.keras.saving import read_model_file


class Sequential(Model):
    """Layers applied one after the other.  The model is built (its weights made) as soon as it
    knows the shape of one sample: from ``keras.Input(shape=...)`` as its first entry, from the
    first layer's ``input_shape=``, from ``build((None, ...))``, or from the first data it sees."""

    def __init__(self, layers=None, name=None):
        super().__init__(name or unique_name("Sequential"))
        self.input = None  # the KerasTensor of keras.Input, if one was given
        self.built_input_shape = None
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

    def _inputs(self, caller, x):
        """``x`` as an array the first layer reads, the model built from it if it was not yet."""
        if not self._modules:
            raise ValueError(f"{caller}: the model has no layers; add them with Sequential([...]) or model.add(layer)")
        x = as_inputs(caller, x, self.input_dtype)
        if not self.built:
            self.build((None,) + x.shape[1:])
        return x

    def _output_layer_name(self, caller):
        return self.layers[-1].name

    def summary_columns(self):
        """Keras's table: each layer with its output shape and parameter count."""
        rows = [(f"{layer.name} ({type(layer).__name__})", str(layer.output_shape), f"{layer.count_params():,}")
                for layer in self.layers]
        return ("Layer (type)", "Output Shape", "Param #"), rows

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


MODEL_CLASSES = {cls.__name__: cls for cls in (Sequential, Functional)}


def load_model(filepath, custom_objects=None, compile=True):
    """The model ``model.save(filepath)`` wrote (Sequential or functional), with its weights
    and (with ``compile=True``) compiled as it was, optimizer state included.  Functions and
    classes of your own (a loss, an activation) are given back by name in
    ``custom_objects={"name": object}``."""
    saved = read_model_file(filepath)
    config = with_custom_objects(saved["config"], custom_objects)
    kind = config.get("class_name")
    if kind not in MODEL_CLASSES:
        raise ValueError(f"load_model: {filepath} holds a model of class {kind!r}; md.keras reads {', '.join(MODEL_CLASSES)}")
    model = MODEL_CLASSES[kind].from_config(config["config"])
    model.set_weights([array for arrays in saved["weights"] for array in arrays])
    compile_config = saved["compile_config"]
    if compile and compile_config is not None:
        model.compile(**with_custom_objects(compile_config, custom_objects))
        if saved["optimizer_state"] is not None:
            model.compiled.optimizer_for(model).load_state_dict(saved["optimizer_state"])
    return model

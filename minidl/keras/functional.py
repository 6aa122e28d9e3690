"""The functional API: ``keras.Model(inputs, outputs)``, a model that is a graph of layer calls.

    input1 = keras.Input(shape=(16,))
    x1 = layers.Dense(8, activation="relu")(input1)
    input2 = keras.Input(shape=(32,))
    x2 = layers.Dense(8, activation="relu")(input2)
    added = layers.Add()([x1, x2])
    out = layers.Dense(4)(added)
    model = keras.Model(inputs=[input1, input2], outputs=out)
    model.predict([x1_data, x2_data])

Calling a layer on KerasTensors recorded the calls (``symbolic.py``); the model finds those
between its inputs and outputs (``graph.py``) and, on real data, runs them again in order, each
KerasTensor standing for the tensor computed for it.  A layer called twice is one layer with
one set of weights (Keras's shared layers).

What md.keras leaves out: inputs and outputs given as dicts; inputs other than ``keras.Input``
tensors; calling a model on KerasTensors (a model inside a model); ``fit`` and ``evaluate`` of
a model with several outputs (its ``predict`` and direct calls work).  ``fit``/``predict`` feed
several inputs when their shapes are fully known (see ``packing.py``).
"""
from minidl import train
from minidl.keras import graph
from minidl.keras import layers as layers_module
from minidl.keras.arrays import as_inputs
from minidl.keras.backend import unique_name
from minidl.keras.config import deserialize
from minidl.keras.keras_tensor import KerasTensor, map_structure
from minidl.keras.model import Model
from minidl.keras.packing import Packing, PackedOutputs
from minidl.tensor import Tensor

KERAS_TENSOR = "__keras_tensor__"  # how Keras's config writes a KerasTensor argument


class Functional(Model):
    """``keras.Model(inputs, outputs, name=None)``: ``inputs`` a ``keras.Input`` tensor or a
    list of them, ``outputs`` a KerasTensor computed from them or a list.  ``model.layers``
    holds the InputLayers too (without weights), as in Keras."""

    built = True  # the layers are built as they are called on KerasTensors

    def __init__(self, inputs=None, outputs=None, name=None):
        if inputs is None or outputs is None:
            raise TypeError("keras.Model: give inputs and outputs, KerasTensors of the functional API "
                            "(md.keras does not support subclassing keras.Model)")
        super().__init__(name or unique_name("Functional"))
        self.inputs, self.outputs = graph.check_keras_tensors("inputs", inputs), graph.check_keras_tensors("outputs", outputs)
        self.input, self.output = inputs, outputs  # as given, as Keras's model.input and model.output
        for tensor in self.inputs:
            if graph.producing_node(tensor).inputs:
                raise NotImplementedError(f"keras.Model: md.keras takes inputs made by keras.Input, got {tensor} "
                                          f"(the output of layer '{tensor.history[0].name}')")
        self.nodes, layers = graph.trace(self.inputs, self.outputs)
        self.node_ids = {id(node) for node in self.nodes}  # a shared layer's calls by other models are not ours
        names = [layer.name for layer in layers]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f'The name "{name}" is used {names.count(name)} times in the model. '
                                 "All layer names should be unique.")
        for index, layer in enumerate(layers):
            self.add_module(str(index), layer)
        self.input_dtypes = [self._input_dtype(tensor) for tensor in self.inputs]
        self.packing = None
        if len(self.inputs) > 1 and all(None not in tensor.shape[1:] for tensor in self.inputs):
            self.packing = Packing([tensor.shape[1:] for tensor in self.inputs],
                                   ["int64" if dtype == "int" else None for dtype in self.input_dtypes])

    def _input_dtype(self, tensor):
        """``"int"`` when the input holds integers or feeds a layer that reads token ids."""
        readers = [node.layer for node in self.nodes if any(tensor is given for given in node.inputs)]
        return "int" if tensor.input_dtype == "int" or any(layer.input_dtype == "int" for layer in readers) else "float"

    @property
    def layers(self):
        return list(self._modules.values())

    @property
    def input_shape(self):
        shapes = [tensor.shape for tensor in self.inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [tensor.shape for tensor in self.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    # -------------------------------------------------------------- running
    def forward(self, inputs):
        """The outputs for ``inputs``: a tensor (one input), a list of tensors (one per input, or
        a dict by input names), or rows of several inputs packed by ``fit``/``predict``."""
        computed = {id(tensor): value for tensor, value in zip(self.inputs, self._input_tensors(inputs))}
        for node in self.nodes:
            if node.inputs:  # an InputLayer's node has none: its tensor is given
                computed.update((id(tensor), value) for tensor, value in zip(node.outputs, node.run(computed)))
        outputs = [computed[id(tensor)] for tensor in self.outputs]
        return outputs[0] if len(outputs) == 1 else outputs

    def _input_tensors(self, inputs):
        if len(self.inputs) > 1 and isinstance(inputs, Tensor) and self.packing is not None and self.packing.fits(inputs):
            return self.packing.unpack(inputs)
        given = self._as_list("call", inputs)
        return [x if isinstance(x, Tensor) else Tensor(as_inputs("call", x, dtype))
                for x, dtype in zip(given, self.input_dtypes)]

    def _as_list(self, caller, x):
        """``x`` as one entry per input: a list or tuple, a dict by input names, or (one input) x."""
        if isinstance(x, dict):
            missing = [tensor.name for tensor in self.inputs if tensor.name not in x]
            if missing:
                raise ValueError(f"{caller}: the dict of inputs has no entry for {missing}; its keys are {list(x)}")
            return [x[tensor.name] for tensor in self.inputs]
        given = list(x) if isinstance(x, (list, tuple)) else [x]
        if len(given) != len(self.inputs):
            raise ValueError(
                f'{caller}: Layer "{self.name}" expects {len(self.inputs)} input(s), but it received {len(given)} '
                f"input tensors; give a list of arrays, one per input: {[tensor.name for tensor in self.inputs]}"
            )
        return given

    def _inputs(self, caller, x):
        """``x`` as the model reads it: one array (one input) or packed rows (several)."""
        if self.packing is not None and not isinstance(x, (list, tuple, dict)) and self.packing.fits(x):
            return x  # already packed (fit packs before it splits off validation data)
        arrays = [as_inputs(caller, array, dtype) for array, dtype in zip(self._as_list(caller, x), self.input_dtypes)]
        for index, (array, tensor) in enumerate(zip(arrays, self.inputs)):
            if array.ndim != tensor.ndim or any(size not in (None, got) for size, got in zip(tensor.shape[1:], array.shape[1:])):
                raise ValueError(f'{caller}: Input {index} of layer "{self.name}" is incompatible with the layer: '
                                 f"expected shape={tensor.shape}, found shape={array.shape}")
        if len(arrays) == 1:
            return arrays[0]
        if len({len(array) for array in arrays}) > 1:
            raise ValueError(f"{caller}: Data cardinality is ambiguous. Make sure all arrays contain the same number "
                             f"of samples. 'x' sizes: {', '.join(str(len(array)) for array in arrays)}")
        if self.packing is None:
            raise NotImplementedError(f"{caller}: md.keras feeds several inputs to fit, evaluate and predict when "
                                      f"their shapes are fully given, got {[tensor.shape for tensor in self.inputs]}; "
                                      "call the model on a list of tensors instead")
        return self.packing.pack(arrays)

    def _output_layer_name(self, caller):
        if len(self.outputs) > 1:
            raise NotImplementedError(f"{caller}: md.keras trains and evaluates models with one output; "
                                      f"{self.name} has {len(self.outputs)} (predict works)")
        return self.outputs[0].history[0].name

    def _predict(self, data, batch_size):
        """One array per output (a list when there are several)."""
        if len(self.outputs) == 1:
            return super()._predict(data, batch_size)
        packed = PackedOutputs(self)
        rows = train.predict(packed, data, batch_size)
        return [part.numpy() for part in packed.packing.unpack(rows)]

    # -------------------------------------------------------------- summary and config
    def summary_columns(self):
        """Keras's functional table: each layer with its output shape(s), parameter count and
        the outputs it is called on (``layer[node][tensor]``, one entry per call)."""
        rows = []
        for layer in self.layers:
            own_nodes = [node for node in layer.inbound_nodes if self._owns(node)]
            shapes = [tensor.shape for tensor in own_nodes[0].outputs]
            sources = [self._reference(tensor) for node in own_nodes for tensor in node.inputs]
            rows.append((f"{layer.name} ({type(layer).__name__})", str(shapes[0] if len(shapes) == 1 else shapes),
                         f"{layer.count_params():,}", ", ".join(f"{name}[{node}][{index}]" for name, node, index in sources) or "-"))
        return ("Layer (type)", "Output Shape", "Param #", "Connected to"), rows

    def _owns(self, node):
        return id(node) in self.node_ids

    def _reference(self, tensor):
        """``[layer name, node index, tensor index]`` of ``tensor``, counting only this model's
        calls of the layer (a shared layer may be called by other models too)."""
        layer, node_index, tensor_index = tensor.history
        own_index = sum(self._owns(node) for node in layer.inbound_nodes[:node_index])
        return [layer.name, own_index, tensor_index]

    def get_config(self):
        """Keras's functional config: each layer's config with its calls (``inbound_nodes``: the
        arguments, KerasTensors written as ``[layer, node, tensor]`` references), and the
        references of the model's inputs and outputs."""
        def argument(value):
            return {"class_name": KERAS_TENSOR, "config": {"shape": value.shape, "dtype": value.dtype,
                                                           "keras_history": self._reference(value)}}
        layer_configs = []
        for layer in self.layers:
            calls = [{"args": map_structure(argument, node.args, KerasTensor),
                      "kwargs": map_structure(argument, node.kwargs, KerasTensor)}
                     for node in layer.inbound_nodes if self._owns(node) and node.inputs]
            for call in calls:
                _check_plain(layer, call)
            layer_configs.append({"class_name": type(layer).__name__, "config": layer.get_config(), "name": layer.name,
                                  "inbound_nodes": calls})

        def references(given):
            return map_structure(self._reference, given, KerasTensor)
        return {"name": self.name, "trainable": True, "layers": layer_configs,
                "input_layers": references(self.input), "output_layers": references(self.output)}

    @classmethod
    def from_config(cls, config):
        """Make the layers from their configs, then call them as ``inbound_nodes`` says, each
        call once the calls it needs are made (a layer's calls in order)."""
        made = {data["name"]: deserialize(data, layers_module.KNOWN, "load_model: layer") for data in config["layers"]}
        pending = {data["name"]: list(data["inbound_nodes"]) for data in config["layers"]}

        def tensor(reference):
            name, node_index, tensor_index = reference
            nodes = made[name].inbound_nodes
            if node_index >= len(nodes):
                raise LookupError(reference)
            return nodes[node_index].outputs[tensor_index]

        while any(pending.values()):
            progressed = False
            for name, calls in pending.items():
                while calls:
                    try:
                        args, kwargs = _resolve(calls[0], tensor)
                    except LookupError:
                        break  # an input of this call is not made yet
                    made[name](*args, **kwargs)
                    calls.pop(0)
                    progressed = True
            if not progressed:
                raise ValueError(f"load_model: the saved graph of {config['name']} cannot be rebuilt: the calls "
                                 f"{ {name: calls for name, calls in pending.items() if calls} } wait on each other")

        def tensors(references):
            if isinstance(references, (list, tuple)) and len(references) == 3 and isinstance(references[0], str):
                return tensor(references)
            return [tensors(reference) for reference in references]
        return cls(tensors(config["input_layers"]), tensors(config["output_layers"]), name=config["name"])


def _check_plain(layer, call):
    """A ValueError naming ``layer`` when a saved call has an argument that is neither a
    KerasTensor nor plain data (None, bool, number, str and lists, tuples and dicts of them)."""
    def check(value):
        if isinstance(value, dict) and value.get("class_name") == KERAS_TENSOR:
            return
        if isinstance(value, (list, tuple, dict)):
            for item in value.values() if isinstance(value, dict) else value:
                check(item)
        elif value is not None and not isinstance(value, (bool, int, float, str)):
            raise ValueError(f"save: layer '{layer.name}' is called with an argument of type {type(value).__name__}, "
                             "which md.keras cannot write into the model's config; make it an input of the model "
                             "(keras.Input) instead")
    check(call)


def _resolve(call, tensor):
    """The ``args`` and ``kwargs`` of a saved call, each KerasTensor written in it replaced by
    ``tensor(reference)``."""
    def restore(value):
        if isinstance(value, dict):
            if value.get("class_name") == KERAS_TENSOR:
                return tensor(value["config"]["keras_history"])
            return {key: restore(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(restore(item) for item in value)
        return value
    return restore(call["args"]), restore(call["kwargs"])

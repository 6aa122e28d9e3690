"""Calling a layer on KerasTensors (Keras's functional API): the call is recorded as a ``Node``
of the layer, and answered with KerasTensors of the output's shapes.

    inputs = keras.Input(shape=(16,))
    x = layers.Dense(8)(inputs)            # KerasTensor (None, 8), x.history = (dense, 0, 0)
    y = layers.Add()([x, layers.Dense(8)(x)])

The output shapes come from running the layer once on all-zero samples of the inputs' shapes
(batch 1, without gradients), as ``Sequential.build`` does; that run also builds the layer (makes
its weights) the first time.  A layer called again keeps its weights: both calls share them, as
in Keras.  A size left free (None) besides the batch is tried as 64 and then as 128: an output
size that changes with it is free too.
"""
from minidl import creation
from minidl.autograd import no_grad
from minidl.keras.backend import unique_name
from minidl.keras.keras_tensor import KerasTensor, flatten, map_structure
from minidl.tensor import Tensor

FREE_SIZES = (64, 128)  # the sizes tried for axes of size None (besides the batch)


class Node:
    """One call of ``layer``: its arguments as given (KerasTensors where tensors go) and the
    KerasTensors it returned (``outputs``, flat)."""

    def __init__(self, layer, args, kwargs, outputs):
        self.layer, self.args, self.kwargs, self.outputs = layer, args, kwargs, outputs

    @property
    def inputs(self):
        """The KerasTensors among the arguments, in order."""
        return flatten((self.args, self.kwargs), KerasTensor)

    def run(self, values):
        """Call the layer again, each KerasTensor replaced by its value in ``values`` (a dict
        ``id(KerasTensor) -> Tensor``); the outputs as a flat list."""
        def value(tensor):
            return values[id(tensor)]
        args, kwargs = map_structure(value, self.args, KerasTensor), map_structure(value, self.kwargs, KerasTensor)
        return flatten(self.layer(*args, **kwargs), Tensor)


def keras_tensors_in(args, kwargs):
    return flatten((args, kwargs), KerasTensor)


def record(layer, args, kwargs, outputs):
    """Add the call ``layer(*args, **kwargs) -> outputs`` (KerasTensors, flat) to the layer's
    ``inbound_nodes`` and point each output's ``history`` at it."""
    node_index = len(layer.inbound_nodes)
    for tensor_index, tensor in enumerate(outputs):
        tensor.history = (layer, node_index, tensor_index)
    layer.inbound_nodes.append(Node(layer, args, kwargs, outputs))


def sample_shape(tensor, free_size=FREE_SIZES[0]):
    """The shape of one sample batch standing for ``tensor``: batch 1, ``free_size`` for None."""
    return (1,) + tuple(free_size if size is None else size for size in tensor.shape[1:])


def call(layer, args, kwargs):
    """``layer(*args, **kwargs)`` where the arguments hold KerasTensors: the outputs as
    KerasTensors (in the structure the layer returns), the call recorded."""
    inputs = keras_tensors_in(args, kwargs)
    outputs = _run_on_samples(layer, args, kwargs, inputs, FREE_SIZES[0])
    shapes = [tuple(t.shape) for t in flatten(outputs, Tensor)]
    if any(size is None for tensor in inputs for size in tensor.shape[1:]):
        others = [tuple(t.shape) for t in flatten(_run_on_samples(layer, args, kwargs, inputs, FREE_SIZES[1]), Tensor)]
        shapes = [tuple(a if a == b else None for a, b in zip(shape, other)) for shape, other in zip(shapes, others)]
    batch = inputs[0].shape[0]
    made = iter([KerasTensor((batch,) + shape[1:], str(t.dtype), unique_name("KerasTensor"))
                 for shape, t in zip(shapes, flatten(outputs, Tensor))])
    symbolic_outputs = map_structure(lambda _: next(made), outputs, Tensor)
    record(layer, args, kwargs, flatten(symbolic_outputs, KerasTensor))
    if layer.built_output_shape is None:
        found = [t.shape for t in flatten(symbolic_outputs, KerasTensor)]
        layer.built_output_shape = found[0] if len(found) == 1 else found
    return symbolic_outputs


def _run_on_samples(layer, args, kwargs, inputs, free_size):
    """The layer's outputs for all-zero samples in place of the KerasTensors (integer zeros for
    integer inputs and for layers that read token ids); errors name the KerasTensors' shapes."""
    def sample(tensor):
        ids = tensor.input_dtype == "int" or layer.input_dtype == "int"
        return creation.zeros(sample_shape(tensor, free_size), dtype="int64" if ids else None)
    try:
        with no_grad():
            return layer(*map_structure(sample, args, KerasTensor), **map_structure(sample, kwargs, KerasTensor))
    except (ValueError, TypeError, NotImplementedError) as error:
        if type(error) in (ValueError, TypeError, NotImplementedError):  # subclasses may take other arguments
            shapes = ", ".join(str(tensor.shape) for tensor in inputs)
            raise type(error)(f"{error} (calling {layer.name} on KerasTensors of shapes {shapes}; md.keras runs the "
                              "layer on a zero sample of batch 1 to find the output shape)") from error
        raise

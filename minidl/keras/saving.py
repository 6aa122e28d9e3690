"""The file ``model.save(path)`` writes and ``keras.models.load_model(path)`` reads: one ``md.save``
archive (``.npz``, written atomically, never pickle), whatever the suffix (``.keras``, ``.h5``):

    format, version     "md.keras", 1
    config              the architecture as Keras writes it: {"class_name": "Sequential",
                        "config": {"name", "layers": [{"class_name": "Dense", "config": {...}}, ...],
                        "build_input_shape"}}, or for ``keras.Model(inputs, outputs)``
                        {"class_name": "Functional", "config": {"name", "layers": [{"class_name",
                        "config", "name", "inbound_nodes": the calls}, ...], "input_layers",
                        "output_layers"}} (see ``functional.py``)
    weights             each layer's ``get_weights()`` (Keras's layout), in ``model.layers`` order
    compile_config      the optimizer, loss and metrics given to ``compile`` (None if not compiled)
    optimizer_state     the optimizer's ``state_dict()`` once it has trained (None before)

The config and the compile settings are stored as plain data in the archive's JSON index, so the
file can be read with ``np.load`` and a JSON reader alone.
"""
from minidl.keras.config import serialize
from minidl.serialization import load, save

FORMAT, VERSION = "md.keras", 1


def save_model(model, filepath):
    """Write ``model`` (built) with its weights, compile settings and optimizer state to ``filepath``."""
    if not model.built:
        raise ValueError(
            f"save: the model {model.name} is not built yet; give it keras.Input(shape=...) or call fit first"
        )
    compiled = model.compiled
    save({
        "format": FORMAT, "version": VERSION,
        "config": serialize(model),
        "weights": [layer.get_weights() for layer in model.layers],
        "compile_config": None if compiled is None else compiled.get_config(),
        "optimizer_state": None if compiled is None or compiled.torch_optimizer is None
        else compiled.torch_optimizer.state_dict(),
    }, filepath)


def read_model_file(filepath):
    """The dict ``save_model`` wrote, or a ValueError saying what the file is instead."""
    saved = load(filepath)
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise ValueError(
            f"load_model: {filepath} is not a model written by model.save (weights of save_weights or a "
            "ModelCheckpoint go back with model.load_weights)"
        )
    if saved.get("version") != VERSION:
        raise ValueError(f"load_model: {filepath} is in version {saved.get('version')!r}; this minidl reads {VERSION}")
    return saved

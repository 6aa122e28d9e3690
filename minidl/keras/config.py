"""Objects as plain data and back, in Keras's format: how ``model.save`` writes an architecture.

    serialize(HeNormal(seed=1))  ->  {"class_name": "HeNormal", "config": {"seed": 1}}
    serialize("relu")            ->  "relu"       a function is written as its name too

``deserialize(data, known, kind)`` reverses it, looking names up in ``known`` (a dict of the
built-in classes and functions).  Objects of the user's own (a loss function, an activation) are
given back by ``with_custom_objects(config, custom_objects)``, which replaces their names in a
saved config by the objects themselves before the layers are made.
"""


def serialize(obj):
    """None and names stay; an object with ``get_config()`` becomes ``{"class_name", "config"}``;
    a function becomes its name."""
    if obj is None or isinstance(obj, (str, int, float)):
        return obj
    if hasattr(obj, "get_config"):
        return {"class_name": type(obj).__name__, "config": obj.get_config()}
    if callable(obj):
        return obj.__name__
    raise TypeError(f"keras: cannot serialize {obj!r}: expected a name, a function or an object with get_config()")


def deserialize(data, known, kind):
    """The object for ``data``: a name in ``known`` (a class is made with its defaults), a
    ``{"class_name", "config"}`` dict, or anything else unchanged (an object already)."""
    if isinstance(data, dict):
        return _lookup(data.get("class_name"), known, kind)(**data.get("config", {}))
    if isinstance(data, str):
        found = _lookup(data, known, kind)
        return found() if isinstance(found, type) else found
    return data


def _lookup(name, known, kind):
    if name not in known:
        raise ValueError(
            f"{kind}: unknown name {name!r}; expected one of {', '.join(sorted(known))} "
            "(an object of your own: pass it to load_model(..., custom_objects={name: object}))"
        )
    return known[name]


NAME_KEYS = {"name", "keras_history", "input_layers", "output_layers"}  # layer names, never custom objects


def with_custom_objects(config, custom_objects):
    """``config`` with every name (or ``{"class_name": ...}``) found in ``custom_objects``
    replaced by that object, at any depth; layer names (under ``NAME_KEYS``) are left alone."""
    if not custom_objects:
        return config
    if isinstance(config, str):
        return custom_objects.get(config, config)
    if isinstance(config, dict):
        if config.get("class_name") in custom_objects:
            found = custom_objects[config["class_name"]]
            return found(**with_custom_objects(config.get("config", {}), custom_objects))
        return {key: value if key in NAME_KEYS else with_custom_objects(value, custom_objects)
                for key, value in config.items()}
    if isinstance(config, (list, tuple)):
        return type(config)(with_custom_objects(item, custom_objects) for item in config)
    return config

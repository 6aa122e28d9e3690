"""``model.summary()``: the layer table Keras prints, with output shapes and parameter counts."""

HEADER = ("Layer (type)", "Output Shape", "Param #")


def summary_text(model):
    """The table as text: one row per layer (name and type, output shape with ``None`` for the
    batch, parameter count), then the totals.  The model must be built."""
    layers = list(model.named_layers())
    rows = [(f"{name} ({type(layer).__name__})", str((None,) + layer.output_shape), f"{layer.count_params():,}")
            for name, layer in layers]
    widths = [max(len(row[column]) for row in rows + [HEADER]) + 2 for column in range(3)]

    def line(row):
        return "".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()

    rule = "=" * sum(widths)
    total = sum(layer.count_params() for _, layer in layers)
    return "\n".join([
        f'Model: "{type(model).__name__.lower()}"', rule, line(HEADER), rule, *map(line, rows), rule,
        f"Total params: {total:,}", f"Trainable params: {total:,}", "Non-trainable params: 0",
    ])

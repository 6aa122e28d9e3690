"""``model.summary()``: the table Keras prints, with output shapes and parameter counts."""

HEADER = ("Layer (type)", "Output Shape", "Param #")


def summary_text(model):
    """The table as text: one row per layer (name and type, output shape with ``None`` for the
    batch, parameter count), then the totals.  The model must be built."""
    rows = [(f"{layer.name} ({type(layer).__name__})", str(layer.output_shape), f"{layer.count_params():,}")
            for layer in model.layers]
    widths = [max(len(row[column]) for row in rows + [HEADER]) + 2 for column in range(3)]

    def line(row):
        return "".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()

    rule = "=" * sum(widths)
    total = model.count_params()
    trainable = sum(p.array.size for p in model.parameters() if p.requires_grad)  # the rest: moving statistics
    return "\n".join([
        f'Model: "{model.name}"', rule, line(HEADER), rule, *map(line, rows), rule,
        f"Total params: {total:,}", f"Trainable params: {trainable:,}", f"Non-trainable params: {total - trainable:,}",
    ])

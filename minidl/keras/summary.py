"""``model.summary()``: the table Keras prints, with output shapes and parameter counts (and, for
a functional model, the layers each one is connected to)."""


def summary_text(model):
    """The table as text: the model's ``summary_columns()`` (a header and one row per layer:
    name and type, output shape with ``None`` for the batch, parameter count, ...), then the
    totals.  The model must be built."""
    header, rows = model.summary_columns()
    widths = [max(len(row[column]) for row in rows + [header]) + 2 for column in range(len(header))]

    def line(row):
        return "".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()

    rule = "=" * sum(widths)
    total = model.count_params()
    trainable = sum(p.array.size for p in model.parameters() if p.requires_grad)  # the rest: moving statistics
    return "\n".join([
        f'Model: "{model.name}"', rule, line(header), rule, *map(line, rows), rule,
        f"Total params: {total:,}", f"Trainable params: {trainable:,}", f"Non-trainable params: {total - trainable:,}",
    ])

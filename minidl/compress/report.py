"""Size and accuracy before and after compression, side by side."""
from minidl.compress.pruning import sparsity
from minidl.ensemble import accuracy


def compression_report(rows, x, y):
    """A text table of ``rows`` (tuples ``(name, model, size_bytes)``): size in KiB, size
    relative to the first row, sparsity of the prunable weights, accuracy on (x, y).
    Returns ``(text, [{"name", "size_bytes", "sparsity", "accuracy"}, ...])``."""
    results = [
        {"name": name, "size_bytes": size, "sparsity": sparsity(model), "accuracy": accuracy(model, x, y)}
        for name, model, size in rows
    ]
    base = results[0]["size_bytes"]
    width = max(len(r["name"]) for r in results)
    lines = [f"{'model':<{width}}  {'size KiB':>8}  {'vs first':>8}  {'sparsity':>8}  {'accuracy':>8}"]
    lines += [
        f"{r['name']:<{width}}  {r['size_bytes'] / 1024:8.1f}  {r['size_bytes'] / base:8.3f}  "
        f"{r['sparsity']:8.3f}  {r['accuracy']:8.4f}"
        for r in results
    ]
    return "\n".join(lines), results

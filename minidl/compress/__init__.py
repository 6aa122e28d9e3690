"""``md.compress``: smaller models after training: magnitude pruning (global or per layer, kept
sparse while fine-tuning) and post-training int8 weight quantization (per tensor or per channel),
with a size and accuracy report."""
from minidl.compress.pruning import KeepPruned, apply_masks, prunable_weights, prune_magnitude, sparsity
from minidl.compress.quantization import (
    QuantizedState,
    dequantize,
    load_quantized,
    model_size_bytes,
    quantize_model,
    quantize_tensor,
)
from minidl.compress.report import compression_report

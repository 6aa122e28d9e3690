"""Differentiable operations, one file per family; ``minidl.functional`` gathers them by name."""

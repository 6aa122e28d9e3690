"""``md.nn.functional``: the same ops as ``minidl.functional`` (PyTorch's ``torch.nn.functional``)."""
from minidl.functional import *  # noqa: F401,F403

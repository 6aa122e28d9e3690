"""``minidl.utils``: PyTorch's ``torch.utils`` paths, so that ``from torch.utils.data import
DataLoader`` becomes ``from minidl.utils.data import DataLoader``."""
from minidl.utils import data  # noqa: F401

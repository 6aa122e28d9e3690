"""``minidl.utils.data``: the datasets and loader of ``md.data`` at ``torch.utils.data``'s path.

    from minidl.utils.data import DataLoader, TensorDataset, random_split
"""
from minidl.data.collate import default_collate
from minidl.data.dataset import Dataset, Subset, TensorDataset
from minidl.data.loader import DataLoader
from minidl.data.split import random_split

__all__ = ["DataLoader", "Dataset", "Subset", "TensorDataset", "default_collate", "random_split"]

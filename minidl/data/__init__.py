"""``md.data``: turning raw data into tensors: datasets and loaders, splits, preprocessing,
augmentation, and text (tokenizer, vocabulary, padding, batches of similar lengths, the
sentence-polarity reader).  ``minidl.utils.data`` shows the PyTorch part at PyTorch's path."""
from minidl.data.text import Vocabulary, batches_by_length, load_sentence_polarity, pad_sequences, tokenize
from minidl.data import augment
from minidl.data.collate import default_collate
from minidl.data.dataset import Dataset, Subset, TensorDataset
from minidl.data.datasets import DataError, load_digits, load_mnist
from minidl.data.loader import DataLoader
from minidl.data.preprocessing import MinMaxScaler, Standardizer, fill_missing
from minidl.data.split import KFold, StratifiedKFold, random_split, train_test_split

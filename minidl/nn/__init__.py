"""``md.nn``: modules, layers, losses and initialisation, with PyTorch's names and semantics."""
from minidl.nn import functional, init
from minidl.nn.activations import GELU, LeakyReLU, LogSoftmax, PReLU, ReLU, Sigmoid, SiLU, Softmax, Tanh
from minidl.nn.conv import Conv2d
from minidl.nn.containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from minidl.nn.layers import Dropout, Dropout2d, Embedding, Flatten, Identity, Linear, Unflatten
from minidl.nn.losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
)
from minidl.nn.module import Module, Parameter, StateDictError
from minidl.nn.normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from minidl.nn.pooling import AvgPool2d, MaxPool2d
from minidl.nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from minidl.nn import utils
from minidl.nn.attention import MultiheadAttention
from minidl.nn.transformer import (
    SinusoidalPositionalEncoding,
    TransformerEncoder,
    TransformerEncoderLayer,
    sinusoidal_positions,
)
from minidl.nn.conv import Conv1d, ConvTranspose2d
from minidl.nn.pooling import AdaptiveAvgPool2d, AdaptiveMaxPool2d
from minidl.nn.layers import Upsample

"""``md.keras.layers``: Keras-style layers, built on ``md.nn`` when they first see an input."""
from minidl.keras.layers.attention import MultiHeadAttention
from minidl.keras.layers.base import Layer
from minidl.keras.layers.conv import Conv1D, Conv2D, Conv2DTranspose
from minidl.keras.layers.core import Activation, Dense, Dropout, Embedding
from minidl.keras.layers.input import Input, InputLayer
from minidl.keras.layers.merging import Add
from minidl.keras.layers.normalization import BatchNormalization, LayerNormalization
from minidl.keras.layers.pooling import (
    AveragePooling2D, GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling2D,
)
from minidl.keras.layers.recurrent import GRU, LSTM, SimpleRNN
from minidl.keras.layers.reshaping import Flatten, Reshape, UpSampling2D

KNOWN = {cls.__name__: cls for cls in (  # the layers a saved model may name (load_model)
    Activation, Add, AveragePooling2D, BatchNormalization, Conv1D, Conv2D, Conv2DTranspose, Dense, Dropout, Embedding,
    Flatten, GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling2D, GRU, InputLayer, LayerNormalization,
    LSTM, MaxPooling2D, MultiHeadAttention, Reshape, SimpleRNN, UpSampling2D,
)}

"""``md.keras.layers``: Keras-style layers, built on ``md.nn`` when they first see an input."""
from minidl.keras.layers.base import Layer
from minidl.keras.layers.conv import AveragePooling2D, Conv2D, MaxPooling2D
from minidl.keras.layers.core import Activation, Dense, Dropout, Embedding, Flatten
from minidl.keras.layers.recurrent import GRU, LSTM, SimpleRNN

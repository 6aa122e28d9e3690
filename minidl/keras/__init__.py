"""``md.keras``: a Keras-style facade over ``md.nn``, ``md.optim`` and ``md.train``, so that
examples written for ``tf.keras`` run with ``tf.keras.X`` replaced by ``md.keras.X``:

    from minidl import keras
    from minidl.keras import layers

    model = keras.Sequential([keras.Input(shape=(28, 28, 1)),
                              layers.Conv2D(32, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
                              layers.Flatten(), layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=5, validation_split=0.1)
    model.save("mnist.keras");  model = keras.models.load_model("mnist.keras")

    inputs = keras.Input(shape=(16,))                  # the functional API: a graph of layers
    x = layers.Dense(16, activation="relu")(inputs)
    model = keras.Model(inputs, layers.Dense(1)(layers.Add()([inputs, x])))

Images are channels-last (batch, H, W, C) and sequences batch-first (batch, T, features), as in
Keras; the layers move axes around the ``md.nn`` layers they wrap, and ``get_weights()`` gives the
weights in Keras's layouts.
"""
from minidl.keras import (
    activations, backend, callbacks, datasets, initializers, layers, losses, metrics, models, optimizers, preprocessing,
    regularizers, utils,
)
from minidl.keras.layers import Input, InputLayer
from minidl.keras.models import Model, Sequential

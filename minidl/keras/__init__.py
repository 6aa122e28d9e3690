"""``md.keras``: a Keras-style facade over ``md.nn``, ``md.optim`` and ``md.train``, so that
examples written for ``tf.keras`` run with ``tf.keras.X`` replaced by ``md.keras.X``:

    from minidl.keras import Sequential
    from minidl.keras.layers import Conv2D, MaxPooling2D, Flatten, Dense

    model = Sequential([Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
                        MaxPooling2D((2, 2)), Flatten(), Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=5, validation_split=0.1)

Images are channels-last (batch, H, W, C) and sequences batch-first (batch, T, features), as in
Keras; the layers move axes around the ``md.nn`` layers they wrap.
"""
from minidl.keras import (
    activations, callbacks, layers, losses, metrics, models, optimizers, preprocessing, regularizers, utils,
)
from minidl.keras.models import Sequential

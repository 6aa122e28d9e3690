"""keras.Model(inputs, outputs), the functional API: Keras's own examples (Add, MultiHeadAttention),
a residual block and a Transformer block, checked against the same computation written out in
NumPy or torch with the same weights, and against Sequential; summary, save/load_model, shared
layers, several inputs and outputs, errors in Keras's terms."""
import re

import numpy as np
import pytest

import minidl as md
from minidl import keras
from minidl.keras import layers
from minidl.testing import assert_close
from test_keras_attention import keras_formula

TOL = (1e-10, 1e-10)


@pytest.fixture(autouse=True)
def fresh_session():
    keras.backend.clear_session()
    md.manual_seed(0)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def relu(x):
    return np.maximum(x, 0)


def dense(x, layer, activation=None):
    kernel, bias = layer.get_weights()
    y = x @ kernel + bias
    return relu(y) if activation == "relu" else y


def add_example():
    """Keras's example of ``Add``, as its docstring writes it."""
    input1 = keras.layers.Input(shape=(16,))
    x1 = keras.layers.Dense(8, activation="relu")(input1)
    input2 = keras.layers.Input(shape=(32,))
    x2 = keras.layers.Dense(8, activation="relu")(input2)
    added = keras.layers.Add()([x1, x2])
    out = keras.layers.Dense(4)(added)
    return keras.models.Model(inputs=[input1, input2], outputs=out)


def residual_block():
    """x -> Dense(16, relu) -> Dense(16), added to x, then Dense(3)."""
    inputs = keras.Input(shape=(16,))
    hidden = layers.Dense(16, activation="relu")(inputs)
    outputs = layers.Dense(3)(layers.Add()([inputs, layers.Dense(16)(hidden)]))
    return keras.Model(inputs, outputs)


# ----------------------------------------------------------------------------- Keras's examples
def test_add_example_predicts_the_sum_of_two_branches(float64):
    model = add_example()
    a, b = rand(5, 16, seed=1), rand(5, 32, seed=2)
    first, second, last = (model.get_layer(name) for name in ("dense", "dense_1", "dense_2"))
    expected = dense(dense(a, first, "relu") + dense(b, second, "relu"), last)
    assert isinstance(model, keras.Model) and type(model).__name__ == "Functional"
    assert model.output_shape == (None, 4) and model.input_shape == [(None, 16), (None, 32)]
    assert_close(model.predict([a, b]), expected, *TOL, "predict")
    assert_close(model([md.tensor(a), md.tensor(b)]).numpy(), expected, *TOL, "call")
    assert_close(model.predict({"input_layer": a, "input_layer_1": b}), expected, *TOL, "inputs by name")


def test_multi_head_attention_example_shapes_and_values(float64):
    """Keras's docstring: target (8, 16) attends to source (4, 16) with 2 heads of key_dim 2."""
    layer = keras.layers.MultiHeadAttention(num_heads=2, key_dim=2)
    target = keras.Input(shape=[8, 16])
    source = keras.Input(shape=[4, 16])
    output_tensor, weights = layer(target, source, return_attention_scores=True)
    assert output_tensor.shape == (None, 8, 16) and weights.shape == (None, 2, 8, 4)
    model = keras.Model([target, source], [output_tensor, weights])
    query, value = rand(3, 8, 16, seed=1), rand(3, 4, 16, seed=2)
    out, scores = model.predict([query, value])
    expected, expected_scores = keras_formula(layer.get_weights(), query, value, value, 2)
    assert_close(out, expected, *TOL, "output")
    assert_close(scores, expected_scores, *TOL, "scores")
    causal = keras.Model([target, source], layer(target, source, use_causal_mask=True))  # the same layer, again
    allowed = np.broadcast_to(np.tril(np.ones((8, 4), bool)), (3, 8, 4))
    expected, _ = keras_formula(layer.get_weights(), query, value, value, 2, allowed)
    assert_close(causal.predict([query, value]), expected, *TOL, "causal output")


# ----------------------------------------------------------------------------- against torch and Sequential
@pytest.mark.torch
def test_residual_block_trains_as_torch(float64):
    """One SGD step of fit on the residual block moves every weight as torch's autograd does for
    the same layers (the input's two paths, through Dense and around it, both reach the loss)."""
    torch = pytest.importorskip("torch")
    model = residual_block()
    x, y = rand(6, 16, seed=1), rand(6, 3, seed=2)
    kernels = [layer.get_weights() for layer in model.layers if layer.get_weights()]
    params = [torch.tensor(w, requires_grad=True) for pair in kernels for w in pair]
    k1, b1, k2, b2, k3, b3 = params
    tx = torch.tensor(x)
    out = (tx + (torch.relu(tx @ k1 + b1) @ k2 + b2)) @ k3 + b3
    torch.nn.functional.mse_loss(out, torch.tensor(y)).backward()
    expected = [(p - 0.1 * p.grad).detach().numpy() for p in params]
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    model.fit(x, y, batch_size=6, epochs=1, shuffle=False, verbose=0)
    for got, want in zip(model.get_weights(), expected):
        assert_close(got, want, *TOL, "weights after one step")


@pytest.mark.torch
def test_two_inputs_train_as_torch(float64):
    """fit on [x1, x2] (two inputs) takes the step torch takes on the same graph."""
    torch = pytest.importorskip("torch")
    model = add_example()
    a, b, y = rand(4, 16, seed=1), rand(4, 32, seed=2), rand(4, 4, seed=3)
    params = [torch.tensor(w, requires_grad=True) for w in model.get_weights()]
    k1, b1, k2, b2, k3, b3 = params
    out = (torch.relu(torch.tensor(a) @ k1 + b1) + torch.relu(torch.tensor(b) @ k2 + b2)) @ k3 + b3
    torch.nn.functional.mse_loss(out, torch.tensor(y)).backward()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    model.fit([a, b], y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    for got, p in zip(model.get_weights(), params):
        assert_close(got, (p - 0.1 * p.grad).detach().numpy(), *TOL, "weights after one step")


def test_a_chain_trains_as_the_same_sequential_model(float64):
    """Input -> Dense -> Dense as a functional model and as a Sequential one, with the same weights: the same predictions and the same history, on arrays and on a generator."""
    inputs = keras.Input(shape=(5,))
    functional = keras.Model(inputs, layers.Dense(2)(layers.Dense(4, activation="relu")(inputs)))
    sequential = keras.Sequential([keras.Input(shape=(5,)), layers.Dense(4, activation="relu"), layers.Dense(2)])
    sequential.set_weights(functional.get_weights())
    x, y = rand(12, 5, seed=1), np.arange(12) % 2
    assert_close(functional.predict(x), sequential.predict(x), *TOL, "predict")
    histories = []
    for model in (functional, sequential):
        model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        histories.append(model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"])

    def batches():
        while True:
            for start in range(0, 12, 4):
                yield x[start : start + 4], y[start : start + 4]
    histories.append(functional.fit(batches(), steps_per_epoch=3, epochs=2, verbose=0).history["loss"])
    histories.append(sequential.fit(batches(), steps_per_epoch=3, epochs=2, verbose=0).history["loss"])
    assert_close(np.array(histories[0]), np.array(histories[1]), *TOL, "array fit")
    assert_close(np.array(histories[2]), np.array(histories[3]), *TOL, "generator fit")
    assert_close(functional.predict(x), sequential.predict(x), *TOL, "predict after training")


def test_transformer_block_learns_with_fit():
    """MultiHeadAttention + Add + LayerNormalization + Dense (a Transformer encoder block), then
    Flatten and a classifier: fit lowers the loss; evaluate and predict agree with it."""
    inputs = keras.Input(shape=(6, 8))
    attention = layers.MultiHeadAttention(num_heads=2, key_dim=4)(inputs, inputs)
    x = layers.LayerNormalization()(layers.Add()([inputs, attention]))
    feed_forward = layers.Dense(8)(layers.Dense(16, activation="relu")(x))
    x = layers.LayerNormalization()(layers.Add()([x, feed_forward]))
    outputs = layers.Dense(2, activation="softmax")(layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    data = rand(64, 6, 8, seed=1).astype(np.float32)
    labels = (data[:, :, 0].sum(axis=1) > 0).astype(np.int64)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    losses = model.fit(data, labels, batch_size=16, epochs=5, verbose=0).history["loss"]
    assert losses[-1] < 0.8 * losses[0]
    loss, accuracy = model.evaluate(data, labels, verbose=0)
    assert 0 < loss < losses[0]
    assert accuracy == pytest.approx(np.mean(model.predict(data).argmax(axis=1) == labels))


# ----------------------------------------------------------------------------- shared layers, shapes
def test_a_layer_called_twice_shares_its_weights(float64):
    shared = layers.Dense(3, name="shared")
    left, right = keras.Input(shape=(4,)), keras.Input(shape=(4,))
    model = keras.Model([left, right], layers.Add()([shared(left), shared(right)]))
    assert [layer.name for layer in model.layers].count("shared") == 1
    assert model.count_params() == 4 * 3 + 3 and len(list(model.parameters())) == 2
    a, b = rand(2, 4, seed=1), rand(2, 4, seed=2)
    assert_close(model.predict([a, b]), dense(a, shared) + dense(b, shared), *TOL, "shared weights")
    model.compile(optimizer="sgd", loss="mse")
    model.fit([a, b], rand(2, 3, seed=3), verbose=0)
    assert_close(model.predict([a, b]), dense(a, shared) + dense(b, shared), *TOL, "still shared after a step")


def test_free_sizes_and_token_ids():
    """Variable-length token ids: the sizes that follow the sequence length stay None; ids feed
    the Embedding as integers, though the Input is float (as in Keras's text examples)."""
    tokens = keras.Input(shape=(None,))
    embedded = layers.Embedding(20, 4)(tokens)
    sequence = layers.LSTM(3, return_sequences=True)(embedded)
    last = layers.LSTM(5)(sequence)
    assert (embedded.shape, sequence.shape, last.shape) == ((None, None, 4), (None, None, 3), (None, 5))
    model = keras.Model(tokens, layers.Dense(2, activation="softmax")(last))
    stack = keras.Sequential([layers.Embedding(20, 4), layers.LSTM(3, return_sequences=True), layers.LSTM(5),
                              layers.Dense(2, activation="softmax")])
    ids = np.array([[1, 19, 3], [4, 5, 6]])
    stack.build((None, 3))
    stack.set_weights(model.get_weights())
    for length in (3, 2):
        assert_close(model.predict(ids[:, :length]), stack.predict(ids[:, :length]), 1e-6, 1e-6, "as Sequential")


def test_token_ids_beside_features(float64):
    """Two inputs of different dtypes through fit/predict: int token ids (an Embedding) and floats."""
    features, ids = keras.Input(shape=(3,)), keras.Input(shape=(2,), dtype="int32")
    embedded = layers.Flatten()(layers.Embedding(6, 2)(ids))
    model = keras.Model([features, ids], layers.Add()([layers.Dense(4)(features), embedded]))
    x, tokens = rand(3, 3, seed=1), np.array([[1, 5], [3, 4], [0, 1]])
    table = model.get_layer("embedding").get_weights()[0]
    expected = dense(x, model.get_layer("dense")) + table[tokens].reshape(3, 4)
    assert_close(model.predict([x, tokens]), expected, *TOL, "predict")


# ----------------------------------------------------------------------------- summary, save, load
def test_summary_is_keras_functional_table(capsys):
    add_example().summary()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == 'Model: "functional"'
    assert lines[2].split() == ["Layer", "(type)", "Output", "Shape", "Param", "#", "Connected", "to"]
    rows = [line.split(maxsplit=4) for line in lines[4:10]]
    assert rows == [
        ["input_layer", "(InputLayer)", "(None,", "16)", "0        -"],
        ["input_layer_1", "(InputLayer)", "(None,", "32)", "0        -"],
        ["dense", "(Dense)", "(None,", "8)", "136      input_layer[0][0]"],
        ["dense_1", "(Dense)", "(None,", "8)", "264      input_layer_1[0][0]"],
        ["add", "(Add)", "(None,", "8)", "0        dense[0][0], dense_1[0][0]"],
        ["dense_2", "(Dense)", "(None,", "4)", "36       add[0][0]"],
    ]
    assert lines[-3:] == ["Total params: 436", "Trainable params: 436", "Non-trainable params: 0"]


def test_save_and_load_model_round_trip(tmp_path):
    """Keras's functional config (layers with their inbound calls), the weights, the compile
    settings and optimizer state come back: the same predictions, and the same next step."""
    inputs = keras.Input(shape=(6, 4))
    shared = layers.Dense(4, name="shared")
    x = layers.MultiHeadAttention(2, 3, name="attention")(inputs, shared(inputs), use_causal_mask=True)
    model = keras.Model(inputs, layers.Flatten()(shared(layers.Add()([inputs, x]))), name="block")
    model.compile(optimizer="adam", loss="mse")
    data, targets = rand(8, 6, 4, seed=1), rand(8, 24, seed=2)
    model.fit(data, targets, epochs=1, verbose=0)
    model.save(tmp_path / "block.keras")
    loaded = keras.models.load_model(tmp_path / "block.keras")
    config = loaded.get_config()
    assert type(loaded).__name__ == "Functional" and loaded.name == "block"
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert [len(layer["inbound_nodes"]) for layer in config["layers"]] == [0, 2, 1, 1, 1]
    assert config["layers"][2]["inbound_nodes"][0]["kwargs"] == {"use_causal_mask": True}
    np.testing.assert_array_equal(loaded.predict(data), model.predict(data))
    for trained in (model, loaded):
        trained.fit(data, targets, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_array_equal(loaded.predict(data), model.predict(data))


# ----------------------------------------------------------------------------- errors
def test_error_layer_called_on_a_keras_tensor_of_the_wrong_shape():
    layer = layers.Dense(3, name="head")
    layer(keras.Input(shape=(16,)))
    with pytest.raises(ValueError, match=re.escape("head: expected input of shape (None, 16), got (None, 8)")):
        layer(keras.Input(shape=(8,)))
    with pytest.raises(ValueError, match=re.escape("conv2d: expected input of shape (batch, height, width, channels), "
                                                   "got (None, 16) (calling conv2d on KerasTensors of shapes (None, 16)")):
        layers.Conv2D(2, 3)(keras.Input(shape=(16,)))
    with pytest.raises(ValueError, match=re.escape("calling add on KerasTensors of shapes (None, 16), (None, 4)")):
        layers.Add()([keras.Input(shape=(16,)), keras.Input(shape=(4,))])


def test_error_outputs_not_connected_to_the_inputs():
    used, other = keras.Input(shape=(3,)), keras.Input(shape=(3,), name="other")
    with pytest.raises(ValueError, match=re.escape("Graph disconnected: cannot find parent for tensor "
                                                   "<KerasTensor shape=(None, 3), dtype=float32, name=other> at layer "
                                                   "'add': it comes from the keras.Input 'other', which is not among "
                                                   "the model's inputs ['input_layer']")):
        keras.Model(used, layers.Add()([used, other]))


@pytest.mark.parametrize("make, error, match", [
    (lambda i: keras.Model(i, np.zeros(3)), ValueError, "All `outputs` values must be KerasTensors"),
    (lambda i: keras.Model({"x": i}, i), NotImplementedError, "not a dict; give a list"),
    (lambda i: keras.Model(layers.Dense(2)(i), i), NotImplementedError, "takes inputs made by keras.Input"),
    (lambda i: keras.Model(i, layers.Dense(2, name="d")(layers.Dense(2, name="d")(i))), ValueError,
     'The name "d" is used 2 times in the model'),
    (lambda i: keras.Model(), TypeError, "give inputs and outputs"),
])
def test_error_model_arguments(make, error, match):
    with pytest.raises(error, match=re.escape(match)):
        make(keras.Input(shape=(3,)))


def test_error_data_that_does_not_fit_the_inputs():
    model = add_example()
    model.compile(optimizer="sgd", loss="mse")
    a, b = np.zeros((4, 16)), np.zeros((4, 32))
    for x, match in (
            (a, 'predict: Layer "functional" expects 2 input(s), but it received 1 input tensors'),
            ([a, np.zeros((4, 31))], 'predict: Input 1 of layer "functional" is incompatible with the layer: '
                                     "expected shape=(None, 32), found shape=(4, 31)"),
            ([a, b[:3]], "predict: Data cardinality is ambiguous. Make sure all arrays contain the same number of "
                         "samples. 'x' sizes: 4, 3")):
        with pytest.raises(ValueError, match=re.escape(match)):
            model.predict(x)


def test_error_training_several_outputs_and_saving_an_array_argument(tmp_path):
    inputs = keras.Input(shape=(3, 4))
    out, scores = layers.MultiHeadAttention(2, 2)(inputs, inputs, return_attention_scores=True,
                                                  attention_mask=np.ones((1, 3, 3), bool))
    model = keras.Model(inputs, [out, scores])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(NotImplementedError, match="fit: md.keras trains and evaluates models with one output"):
        model.fit(np.zeros((2, 3, 4)), np.zeros((2, 3, 4)), verbose=0)
    with pytest.raises(ValueError, match="save: layer 'multi_head_attention' is called with an argument of type "
                                         "ndarray"):
        model.save(tmp_path / "model.keras")

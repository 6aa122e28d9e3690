"""Optimizers with Keras's argument names and defaults, mapped onto ``md.optim``.

A Keras optimizer is made before the model has weights (``compile`` comes before ``fit``), so
these objects hold the settings and ``build(params)`` makes the ``md.optim`` optimizer once the
weights exist.  Keras's defaults differ from PyTorch's: epsilon is 1e-7 (torch: 1e-8), RMSprop's
rho is 0.9 (torch's alpha: 0.99) and its learning rate 0.001 (torch: 0.01).
"""
from minidl import optim
from minidl.keras.config import deserialize


class Optimizer:
    """Settings now, an ``md.optim`` optimizer later: subclasses set ``torch_class`` and
    ``torch_arguments()`` (the Keras settings under md.optim's names)."""

    torch_class = None

    def __init__(self, learning_rate):
        self.learning_rate = learning_rate

    def build(self, params):
        """The ``md.optim`` optimizer for ``params`` with these settings."""
        return self.torch_class(params, lr=self.learning_rate, **self.torch_arguments())

    def get_config(self):
        """The settings, as the constructor's arguments."""
        return dict(vars(self))

    def __repr__(self):
        settings = ", ".join(f"{key}={value}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({settings})"


class SGD(Optimizer):
    """``v <- momentum * v - lr * g;  w <- w + v`` (Keras), the same steps as ``md.optim.SGD``
    with momentum (whose velocity is -v / lr)."""

    torch_class = optim.SGD

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False):
        super().__init__(learning_rate)
        self.momentum, self.nesterov = momentum, nesterov

    def torch_arguments(self):
        return dict(momentum=self.momentum, nesterov=self.nesterov)


class RMSprop(Optimizer):
    """``md.optim.RMSprop`` with alpha = rho."""

    torch_class = optim.RMSprop

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
        super().__init__(learning_rate)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered

    def torch_arguments(self):
        return dict(alpha=self.rho, eps=self.epsilon, momentum=self.momentum, centered=self.centered)


class Adam(Optimizer):
    """``md.optim.Adam`` with betas = (beta_1, beta_2)."""

    torch_class = optim.Adam

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False):
        super().__init__(learning_rate)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad

    def torch_arguments(self):
        return dict(betas=(self.beta_1, self.beta_2), eps=self.epsilon, amsgrad=self.amsgrad)


OPTIMIZERS = {"adam": Adam, "sgd": SGD, "rmsprop": RMSprop}
KNOWN = {**OPTIMIZERS, **{cls.__name__: cls for cls in OPTIMIZERS.values()}}


def get(optimizer):
    """An optimizer object for a name (``"adam"``, ``"sgd"``, ``"rmsprop"``, Keras's defaults),
    a saved config, or the object itself."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str) and optimizer.lower() in OPTIMIZERS:
        return OPTIMIZERS[optimizer.lower()]()
    if isinstance(optimizer, dict):
        return deserialize(optimizer, KNOWN, "compile: optimizer")
    raise ValueError(
        f"compile: unknown optimizer {optimizer!r}; expected one of {', '.join(OPTIMIZERS)} "
        "or an object of md.keras.optimizers"
    )

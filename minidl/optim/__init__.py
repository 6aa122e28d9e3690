"""``md.optim``: optimizers that update parameters from their gradients, and learning-rate schedules.

Same classes, arguments, defaults and arithmetic as ``torch.optim``; each class's docstring
states its update formula.
"""
from minidl.optim import lr_scheduler
from minidl.optim.adadelta import Adadelta
from minidl.optim.adagrad import Adagrad
from minidl.optim.adam import Adam
from minidl.optim.adamw import AdamW
from minidl.optim.momentum import Momentum
from minidl.optim.optimizer import Optimizer
from minidl.optim.regularization import l1_penalty, l2_penalty
from minidl.optim.rmsprop import RMSprop
from minidl.optim.sgd import SGD

"""A recurrent cell unrolled by hand: nn.LSTMCell and nn.GRUCell over a sequence, h and c carried."""
import numpy as np
import torch
import torch.nn as nn

rng = np.random.default_rng(19)
seq_len, batch, n_in, n_hidden = 5, 3, 4, 6
inputs = torch.tensor(rng.standard_normal((seq_len, batch, n_in)), dtype=torch.float32)
target = torch.tensor(rng.standard_normal((batch, 1)), dtype=torch.float32)

lstm_cell = nn.LSTMCell(n_in, n_hidden)
gru_cell = nn.GRUCell(n_hidden, n_hidden)
readout = nn.Linear(n_hidden, 1)
modules = [lstm_cell, gru_cell, readout]
with torch.no_grad():
    for module in modules:
        for p in module.parameters():
            p.copy_(torch.tensor(rng.normal(0, 0.3, tuple(p.shape)), dtype=torch.float32))
params = [p for module in modules for p in module.parameters()]
optimizer = torch.optim.RMSprop(params, lr=0.01)

losses = []
for step in range(3):
    h = torch.zeros(batch, n_hidden)
    c = torch.zeros(batch, n_hidden)
    g = torch.zeros(batch, n_hidden)
    for t in range(seq_len):
        h, c = lstm_cell(inputs[t], (h, c))
        g = gru_cell(h, g)
    loss = ((readout(g) - target) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())

RESULTS = {
    "losses": losses,
    "h": h.detach().numpy(),
    "c": c.detach().numpy(),
    "lstm_weight_ih_grad": lstm_cell.weight_ih.grad.numpy(),
    "gru_bias_hh": gru_cell.bias_hh.detach().numpy(),
}

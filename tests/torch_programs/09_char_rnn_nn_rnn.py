"""A character-level language model step: nn.Embedding, nn.RNN(batch_first=True), nn.Linear."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

text = "hello world, hello there"
chars = sorted(set(text))
stoi = {ch: i for i, ch in enumerate(chars)}
itos = {i: ch for ch, i in stoi.items()}
data = torch.tensor([stoi[ch] for ch in text], dtype=torch.long)
vocab_size, seq_len = len(chars), 8


class CharRNN(nn.Module):
    def __init__(self, vocab_size, embed_dim=6, hidden_size=12):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.rnn = nn.RNN(embed_dim, hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, vocab_size)

    def forward(self, x, h=None):
        out, h = self.rnn(self.embed(x), h)
        return self.fc(out), h


model = CharRNN(vocab_size)
rng = np.random.default_rng(6)
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.tensor(rng.normal(0, 0.3, tuple(p.shape))))
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)

starts = range(0, len(data) - seq_len - 1, 4)
inputs = torch.stack([data[s:s + seq_len] for s in starts])
targets = torch.stack([data[s + 1:s + seq_len + 1] for s in starts])

losses = []
for step in range(5):
    logits, _ = model(inputs)
    loss = F.cross_entropy(logits.view(-1, vocab_size), targets.view(-1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())

model.eval()
with torch.no_grad():
    x = torch.tensor([[stoi["h"]]])
    h = None
    generated = []
    for _ in range(10):
        logits, h = model(x, h)
        next_id = logits[0, -1].argmax().item()
        generated.append(next_id)
        x = torch.tensor([[next_id]])

print("".join(itos[i] for i in generated))
RESULTS = {
    "losses": losses,
    "generated": generated,
    "final_hidden": h.numpy(),
    "embed_grad": model.embed.weight.grad.numpy(),
    "weight_hh": model.rnn.weight_hh_l0.detach().numpy(),
}

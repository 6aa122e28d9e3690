"""An LSTM sequence classifier: Embedding -> LSTM -> last hidden state -> Linear; eval by argmax."""
import numpy as np
import torch
import torch.nn as nn


class LSTMClassifier(nn.Module):
    def __init__(self, vocab_size, embedding_dim, hidden_dim, num_classes):
        super(LSTMClassifier, self).__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim, num_layers=1, batch_first=True)
        self.fc = nn.Linear(hidden_dim, num_classes)

    def forward(self, x):
        embedded = self.embedding(x)
        output, (hidden, cell) = self.lstm(embedded)
        return self.fc(hidden[-1])


rng = np.random.default_rng(8)
sequences = torch.tensor(rng.integers(1, 20, (6, 7)))
sequences[:2, 5:] = 0
labels = torch.tensor([0, 1, 1, 0, 1, 0])

model = LSTMClassifier(vocab_size=20, embedding_dim=5, hidden_dim=6, num_classes=2)
state = {
    k: torch.tensor(rng.normal(0, 0.4, tuple(v.shape)), dtype=torch.float32) for k, v in model.state_dict().items()
}
state["embedding.weight"][0] = 0.0
model.load_state_dict(state)

criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
losses = []
for epoch in range(4):
    model.train()
    optimizer.zero_grad()
    loss = criterion(model(sequences), labels)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())


@torch.no_grad()
def predict(model, sequences):
    model.eval()
    logits = model(sequences)
    return logits, torch.softmax(logits, dim=1)


logits, probs = predict(model, sequences)
_, predicted = torch.max(logits, 1)
accuracy = (predicted == labels).sum().item() / labels.size(0)

RESULTS = {
    "losses": losses,
    "probs": probs.numpy(),
    "logits_require_grad": float(logits.requires_grad),
    "predicted": predicted.numpy(),
    "accuracy": accuracy,
    "weight_ih": model.lstm.weight_ih_l0.detach().numpy(),
    "padding_row_grad": model.embedding.weight.grad[0].numpy(),
}

"""PyTorch twin of mlp_step.rs: same shapes, same optimiser, 2 threads, same timing rule
(warm-up untimed, then per-iteration wall time; a scalar is read back every iteration)."""
import json, os, time, gzip, pathlib
import torch
import pathlib, sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "xtask" / "python"))
from repro_bench import run  # noqa: E402  (the shared timing rule)

torch.set_num_threads(int(os.environ.get("REPRO_THREADS", "2")))
torch.manual_seed(0)
root = pathlib.Path(__file__).resolve().parents[3]
rows = [list(map(int, l.split(","))) for l in gzip.open(root / "datasets/digits/digits.csv.gz", "rt").read().splitlines()]
x = torch.tensor([r[:64] for r in rows[:256]], dtype=torch.float32) / 16.0
y = torch.tensor([r[64] for r in rows[:256]])
model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2, eps=1e-8)
loss_fn = torch.nn.CrossEntropyLoss()


def train_step():
    opt.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()
    model[2].bias.sum().item()


def forward():
    with torch.no_grad():
        model(x).sum().item()


run("mlp_train_step_b256", 20, 200, train_step)
run("mlp_forward_b256", 20, 200, forward)

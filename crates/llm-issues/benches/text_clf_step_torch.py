"""PyTorch twin of text_clf_step.rs: softmax regression on a dense [300, 32768] input
(rows L2-normalised; random values instead of the tf-idf rows, which a dense kernel does
not care about), logits [300, 3], cross-entropy + 1e-4 * ||W||^2 (bias not penalised),
backward, Adam lr 1e-2 eps 1e-8, 2 threads, the shared timing rule."""
import os
import pathlib
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "xtask" / "python"))
from repro_bench import run  # noqa: E402  (the shared timing rule)

torch.set_num_threads(int(os.environ.get("REPRO_THREADS", "2")))
torch.manual_seed(0)
n, d, c = 300, 1 << 15, 3
x = F.normalize(torch.rand(n, d), dim=1)
y = torch.arange(n) % c
lin = torch.nn.Linear(d, c)
opt = torch.optim.Adam(lin.parameters(), lr=1e-2, eps=1e-8)


def step():
    opt.zero_grad()
    loss = F.cross_entropy(lin(x), y) + 1e-4 * lin.weight.pow(2).sum()
    loss.item()
    loss.backward()
    opt.step()


run("linear_text_step_n300_b32768", 5, 50, step)

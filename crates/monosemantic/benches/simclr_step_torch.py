"""PyTorch twin of simclr_step.rs: the same encoder (Linear 64-256, LayerNorm, ReLU,
Linear 256-256, LayerNorm, ReLU; projector Linear 256-1024, ReLU, Linear 1024-256), NT-Xent
with tau 0.2 (self-similarity masked with -1e9), AdamW lr 1e-3 wd 1e-4 eps 1e-8, 512 rows,
2 threads; NCL adds a ReLU on the projector output before the loss."""
import json, os, time
import torch
import pathlib, sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "xtask" / "python"))
from repro_bench import run  # noqa: E402  (the shared timing rule)
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(int(os.environ.get("REPRO_THREADS", "2")))
torch.manual_seed(0)


def encoder():
    return nn.Sequential(
        nn.Linear(64, 256), nn.LayerNorm(256), nn.ReLU(), nn.Linear(256, 256), nn.LayerNorm(256), nn.ReLU(),
        nn.Linear(256, 1024), nn.ReLU(), nn.Linear(1024, 256),
    )


def nt_xent(z1, z2, tau):
    n = z1.shape[0]
    u = F.normalize(torch.cat([z1, z2]), dim=1, eps=1e-12)
    logits = u @ u.t() / tau - torch.eye(2 * n) * 1e9
    partner = (torch.arange(2 * n) + n) % (2 * n)
    return F.cross_entropy(logits, partner)


x1, x2 = torch.rand(256, 64), torch.rand(256, 64)


for name, relu in [("simclr_step_b256", False), ("ncl_step_b256", True)]:
    enc = encoder()
    opt = torch.optim.AdamW(enc.parameters(), lr=1e-3, weight_decay=1e-4, eps=1e-8)

    def step():
        opt.zero_grad()
        z1, z2 = enc(x1), enc(x2)
        if relu:
            z1, z2 = F.relu(z1), F.relu(z2)
        loss = nt_xent(z1, z2, 0.2)
        loss.item()
        loss.backward()
        opt.step()

    run(name, 5, 40, step)

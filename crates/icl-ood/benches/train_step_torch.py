"""PyTorch twin of train_step.rs: the same GPT-2-style pre-LN decoder with learned
positions (read-in Linear(4, 64), 3 blocks of causal attention with 2 heads and a GELU MLP
of 256, final LayerNorm, read-out Linear(64, 1)), prompts of 17 (x, y) pairs interleaved into
34 tokens, batch 32, MSE at the x slots, Adam (lr 5e-4, eps 1e-8), 2 threads. Inputs are
random noiseless linear-regression prompts (the cost does not depend on their values)."""
import os
import pathlib
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "xtask" / "python"))
from repro_bench import run  # noqa: E402  (the shared timing rule)

torch.set_num_threads(int(os.environ.get("REPRO_THREADS", "2")))
torch.manual_seed(0)
D_IN, D, H, L, FF, B, N = 4, 64, 2, 3, 256, 32, 17
DH = D // H


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.q, self.k, self.v, self.o = (nn.Linear(D, D) for _ in range(4))
        self.up, self.down = nn.Linear(D, FF), nn.Linear(FF, D)

    def forward(self, x):
        b, t, _ = x.shape
        n = self.ln1(x)
        split = lambda y: y.view(b, t, H, DH).transpose(1, 2)
        q, k, v = split(self.q(n)), split(self.k(n)), split(self.v(n))
        ctx = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.o(ctx.transpose(1, 2).reshape(b, t, D))
        return x + self.down(F.gelu(self.up(self.ln2(x))))


class IclModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.read_in = nn.Linear(D_IN, D)
        self.pos = nn.Embedding(2 * N, D)
        self.blocks = nn.ModuleList(Block() for _ in range(L))
        self.ln, self.read_out = nn.LayerNorm(D), nn.Linear(D, 1)

    def forward(self, xs, ys):
        b, n, d = xs.shape
        ys_wide = torch.cat((ys.view(b, n, 1), torch.zeros(b, n, d - 1)), dim=2)
        z = torch.stack((xs, ys_wide), dim=2).view(b, 2 * n, d)
        h = self.read_in(z) + self.pos(torch.arange(2 * n))
        for blk in self.blocks:
            h = blk(h)
        return self.read_out(self.ln(h))[:, ::2, 0]


model = IclModel()
opt = torch.optim.Adam(model.parameters(), lr=5e-4, betas=(0.9, 0.999), eps=1e-8)
xs = torch.randn(B, N, D_IN)
ys = (xs @ torch.randn(B, D_IN, 1))[:, :, 0]


def step():
    opt.zero_grad()
    loss = F.mse_loss(model(xs, ys), ys)
    loss.item()
    loss.backward()
    opt.step()


run("icl_train_step_b32_t34", 5, 30, step)

"""PyTorch twin of train_step.rs: the same pre-LN decoder (RoPE on adjacent pairs, GELU
MLP, final LayerNorm), batch 16 x 64 tokens, cross-entropy, AdamW (wd 0.01, eps 1e-8) with a
per-parameter gradient-norm clip of 1.0 (as Burn's GradientClippingConfig::Norm), 2 threads.
Inputs are random tokens of the same vocabulary (the cost does not depend on their values)."""
import json, math, os, time
import torch
import pathlib, sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "xtask" / "python"))
from repro_bench import run  # noqa: E402  (the shared timing rule)
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(int(os.environ.get("REPRO_THREADS", "2")))
torch.manual_seed(0)
V, D, H, L, FF, B, T = 133, 64, 4, 2, 256, 16, 64
DH = D // H


def rope_tables(t, dh, base=10000.0):
    inv = base ** (-torch.arange(0, dh, 2).float() / dh)
    ang = torch.arange(t).float()[:, None] * inv[None, :]
    return ang.cos(), ang.sin()


COS, SIN = rope_tables(T, DH)


def rope(x):  # x [b, h, t, dh], adjacent pairs (x0, x1), (x2, x3), ...
    x0, x1 = x[..., 0::2], x[..., 1::2]
    t = x.shape[2]
    c, s = COS[:t], SIN[:t]
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2)


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
        q, k, v = rope(split(self.q(n))), rope(split(self.k(n))), split(self.v(n))
        ctx = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.o(ctx.transpose(1, 2).reshape(b, t, D))
        return x + self.down(F.gelu(self.up(self.ln2(x))))


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, D)
        self.blocks = nn.ModuleList(Block() for _ in range(L))
        self.ln, self.head = nn.LayerNorm(D), nn.Linear(D, V)

    def forward(self, ids):
        x = self.emb(ids)
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln(x))


model = Decoder()
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01, eps=1e-8)
ids = torch.randint(0, V, (B, T))


def step():
    opt.zero_grad()
    logits = model(ids[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, V), ids[:, 1:].reshape(-1))
    loss.item()
    loss.backward()
    for p in model.parameters():
        torch.nn.utils.clip_grad_norm_([p], 1.0)
    opt.step()


run("lm_train_step_b16_t64", 5, 30, step)

"""PyTorch twin of train_step.rs (facebookresearch/mae models_mae.py at digit scale):
batch 128 of 16 patches x 4 values, patch embed Linear(4, 64) + fixed 2-D sin-cos positions,
random masking keeping 4 of 16 (noise argsort, ids_restore), CLS + visible patches through
4 pre-LN blocks (64-d, 4 heads, MLP 256, LayerNorm eps 1e-6), LayerNorm, Linear(64, 32),
mask tokens, unshuffle, decoder positions, 2 blocks (32-d, 4 heads, MLP 128), LayerNorm,
then
- mae_step_b128: head Linear(32, 4), per-patch MSE averaged over removed patches;
- kmim_pix16_step_b128: PIX-16 tokens of the batch (nearest of 16 centres via
  |x|^2 - 2 x.c + |c|^2 and argmin, under no_grad), head Linear(32, 16), cross-entropy
  averaged over removed patches;
backward, AdamW (betas 0.9/0.95, eps 1e-8, wd 0.05 on matrices, 0 on biases and norms),
2 threads, the shared timing rule."""
import os
import pathlib
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "xtask" / "python"))
from repro_bench import run  # noqa: E402  (the shared timing rule)

torch.set_num_threads(int(os.environ.get("REPRO_THREADS", "2")))
torch.manual_seed(0)
B, L, P, E, DE, K, KEEP = 128, 16, 4, 64, 32, 16, 4


def sincos_2d(dim, grid, cls):
    """facebookresearch/mae util/pos_embed.py get_2d_sincos_pos_embed ("w goes first")."""
    def one_d(d, pos):
        omega = 1.0 / 10000 ** (np.arange(d // 2, dtype=np.float64) / (d / 2.0))
        out = np.einsum("m,d->md", pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)
    g = np.arange(grid, dtype=np.float32)
    mesh = np.stack(np.meshgrid(g, g), axis=0)  # here w goes first, as upstream
    emb = np.concatenate([one_d(dim // 2, mesh[0]), one_d(dim // 2, mesh[1])], axis=1)
    if cls:
        emb = np.concatenate([np.zeros([1, dim]), emb], axis=0)
    return torch.tensor(emb, dtype=torch.float32)


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.h = heads
        self.ln1, self.ln2 = nn.LayerNorm(d, eps=1e-6), nn.LayerNorm(d, eps=1e-6)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.h, d // self.h).permute(2, 0, 3, 1, 4)
        ctx = F.scaled_dot_product_attention(q, k, v)
        x = x + self.proj(ctx.transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class MaeVit(nn.Module):
    def __init__(self, out):
        super().__init__()
        self.embed = nn.Linear(P, E)
        self.cls = nn.Parameter(torch.randn(1, 1, E) * 0.02)
        self.register_buffer("pos", sincos_2d(E, 4, True).unsqueeze(0))
        self.enc = nn.ModuleList(Block(E, 4) for _ in range(4))
        self.enc_norm = nn.LayerNorm(E, eps=1e-6)
        self.dec_embed = nn.Linear(E, DE)
        self.mask_token = nn.Parameter(torch.randn(1, 1, DE) * 0.02)
        self.register_buffer("dec_pos", sincos_2d(DE, 4, True).unsqueeze(0))
        self.dec = nn.ModuleList(Block(DE, 4) for _ in range(2))
        self.dec_norm = nn.LayerNorm(DE, eps=1e-6)
        self.head = nn.Linear(DE, out)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        n = x.shape[0]
        x = self.embed(x) + self.pos[:, 1:]
        noise = torch.rand(n, L)
        ids_shuffle = torch.argsort(noise, dim=1)
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        keep = ids_shuffle[:, :KEEP]
        x = torch.gather(x, 1, keep.unsqueeze(-1).repeat(1, 1, E))
        mask = torch.ones(n, L)
        mask[:, :KEEP] = 0
        mask = torch.gather(mask, 1, ids_restore)
        x = torch.cat([(self.cls + self.pos[:, :1]).expand(n, -1, -1), x], dim=1)
        for blk in self.enc:
            x = blk(x)
        y = self.dec_embed(self.enc_norm(x))
        toks = torch.cat([y[:, 1:], self.mask_token.repeat(n, L - KEEP, 1)], dim=1)
        toks = torch.gather(toks, 1, ids_restore.unsqueeze(-1).repeat(1, 1, DE))
        y = torch.cat([y[:, :1], toks], dim=1) + self.dec_pos
        for blk in self.dec:
            y = blk(y)
        return self.head(self.dec_norm(y))[:, 1:], mask


def adamw(model):
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": 0.05},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=1e-3, betas=(0.9, 0.95), eps=1e-8)


x = ((torch.randint(0, 17, (B, L, P)).float() - 5.0) / 6.0)
centers = x.reshape(-1, P)[torch.randperm(B * L)[:K]].clone()

for name, out in [("mae_step_b128", P), ("kmim_pix16_step_b128", K)]:
    model = MaeVit(out)
    opt = adamw(model)

    def step():
        opt.zero_grad()
        pred, mask = model(x)
        if out == P:
            per = ((pred - x) ** 2).mean(-1)
        else:
            with torch.no_grad():
                flat = x.reshape(-1, P)
                d = (flat ** 2).sum(1, keepdim=True) - 2 * flat @ centers.t() + (centers ** 2).sum(1)
                t = d.argmin(1).view(B, L)
            per = F.cross_entropy(pred.reshape(-1, K), t.reshape(-1), reduction="none").view(B, L)
        loss = (per * mask).sum() / mask.sum()
        loss.item()
        loss.backward()
        opt.step()

    run(name, 5, 40, step)

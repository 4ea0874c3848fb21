"""PyTorch twin of train_step.rs: one training step of each objective at the quick shape.
Token embedding (32 + 2, 64) (BOS = 32, MASK = 33) plus learned positions (25, 64), two
pre-LN blocks (4 heads, GELU MLP 256, LayerNorm eps 1e-5), final LayerNorm, untied head
Linear(64, 32), offset embeddings e_2..e_8 (7 rows) added before the head for DEAR.
Batch 64 sequences of n = 24 tokens. AR: causal pass over (BOS, x_1..x_23), targets x_1..x_24.
MLM: 4 uniform masked positions of 24 (ceil(0.15 * 24)), bidirectional, mean over masked
targets per sequence. DEAR: one offset k' ~ U{2..4} per position, mean over valid
(position, offset) pairs per sequence. VLM: rho ~ U(0.05, 0.95) per sequence, contiguous
suffix with probability 0.5. Loss read back, backward, global-norm clipping at 1.0, AdamW
(lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.01 on matrices only), 2 threads.
Corruption is redrawn every step, as in the Rust bench."""
import math
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
V, N, D, H, L, FF, B, K_MODEL = 32, 24, 64, 4, 2, 256, 64, 8
BOS, MASK = V, V + 1
DH = D // H


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.q, self.k, self.v, self.o = (nn.Linear(D, D) for _ in range(4))
        self.up, self.down = nn.Linear(D, FF), nn.Linear(FF, D)

    def forward(self, x, causal):
        b, t, _ = x.shape
        n = self.ln1(x)
        split = lambda y: y.view(b, t, H, DH).transpose(1, 2)
        q, k, v = split(self.q(n)), split(self.k(n)), split(self.v(n))
        ctx = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        x = x + self.o(ctx.transpose(1, 2).reshape(b, t, D))
        return x + self.down(F.gelu(self.up(self.ln2(x))))


class SeqModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(V + 2, D)
        self.pos = nn.Embedding(N + 1, D)
        self.blocks = nn.ModuleList(Block() for _ in range(L))
        self.ln = nn.LayerNorm(D)
        self.head = nn.Linear(D, V)
        self.offsets = nn.Embedding(K_MODEL - 1, D)

    def hidden(self, ids, causal):
        h = self.embed(ids) + self.pos(torch.arange(ids.shape[1]))
        for blk in self.blocks:
            h = blk(h, causal)
        return self.ln(h)


def per_sequence_mean(lp, w):
    return -((lp * w).sum(1) / w.sum(1)).mean()


def ar_loss(m, x):
    inp = torch.cat((torch.full((B, 1), BOS), x[:, :-1]), 1)
    lp = F.log_softmax(m.head(m.hidden(inp, True)), -1).gather(2, x[..., None])[..., 0]
    return -lp.mean()


def dear_loss(m, x, k_max=4):
    inp = torch.cat((torch.full((B, 1), BOS), x[:, :-1]), 1)
    h = m.hidden(inp, True)
    lp1 = F.log_softmax(m.head(h), -1).gather(2, x[..., None])[..., 0]
    k = torch.randint(2, k_max + 1, (B, N))
    i = torch.arange(N)[None, :]
    valid = (i + k <= N).float()
    tgt_idx = torch.clamp(i + k - 1, max=N - 1)
    tgt = x.gather(1, tgt_idx)
    lp2 = F.log_softmax(m.head(h + m.offsets(k - 2)), -1).gather(2, tgt[..., None])[..., 0]
    lp = torch.cat((lp1, lp2), 1)
    w = torch.cat((torch.ones(B, N), valid), 1)
    return per_sequence_mean(lp, w)


def masked_loss(m, x, counts, suffix):
    w = torch.zeros(B, N)
    for r in range(B):
        c = int(counts[r])
        pos = torch.arange(N - c, N) if suffix[r] else torch.randperm(N)[:c]
        w[r, pos] = 1.0
    inp = torch.cat((torch.full((B, 1), BOS), torch.where(w.bool(), MASK, x)), 1)
    h = m.hidden(inp, False)[:, 1:]
    lp = F.log_softmax(m.head(h), -1).gather(2, x[..., None])[..., 0]
    return per_sequence_mean(lp, w)


def mlm_loss(m, x):
    return masked_loss(m, x, torch.full((B,), math.ceil(0.15 * N)), torch.zeros(B, dtype=torch.bool))


def vlm_loss(m, x):
    ppm = torch.randint(50_000, 950_001, (B,))
    counts = (ppm * N + 999_999) // 1_000_000
    return masked_loss(m, x, counts, torch.rand(B) < 0.5)


x = torch.randint(0, V, (B, N))
for name, loss_fn in (("ar", ar_loss), ("mlm", mlm_loss), ("dear", dear_loss), ("vlm", vlm_loss)):
    torch.manual_seed(0)
    model = SeqModel()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
        lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
    )

    def step():
        opt.zero_grad()
        loss = loss_fn(model, x)
        loss.item()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    run(f"gssl_step_{name}_b{B}_t{N + 1}", 5, 30, step)

"""PyTorch twin of kn_step.rs: the same pre-LN decoder (RoPE on adjacent pairs, GELU MLP,
final LayerNorm; vocabulary 328, d 64, 4 heads, 4 layers, d_ff 256), 2 threads.

kn_ig_bag4_m20: integrated gradients of a 4-prompt bag (lengths 4, 4, 7, 6, right-padded to
7) over all 4 layers at m = 20: one no-grad pass recording the activations at the target
positions, then one batched forward + backward of 320 rows in which each row's layer-l
activations at its target position are a require-grad leaf alpha_k * a; parameters frozen.

kn_train_step_b64: one step on 64 sequences of 15 input tokens (the Rust batch's shape),
masked cross-entropy, backward, global-norm clip 1.0, AdamW (wd 0.01 on matrices only,
eps 1e-8). Inputs are random tokens (the cost does not depend on their values)."""
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
V, D, H, L, FF = 328, 64, 4, 4, 256
DH = D // H
M = 20


def rope_tables(t, dh, base=10000.0):
    inv = base ** (-torch.arange(0, dh, 2).float() / dh)
    ang = torch.arange(t).float()[:, None] * inv[None, :]
    return ang.cos(), ang.sin()


COS, SIN = rope_tables(32, DH)


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

    def forward(self, x, patch=None, record=None):
        b, t, _ = x.shape
        n = self.ln1(x)
        split = lambda y: y.view(b, t, H, DH).transpose(1, 2)
        q, k, v = rope(split(self.q(n))), rope(split(self.k(n))), split(self.v(n))
        ctx = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.o(ctx.transpose(1, 2).reshape(b, t, D))
        act = F.gelu(self.up(self.ln2(x)))
        if patch is not None:  # (rows, positions, values [len(rows), FF])
            rows, pos, values = patch
            act = act.index_put((rows, pos), values)
        if record is not None:
            record.append(act)
        return x + self.down(act)


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, D)
        self.blocks = nn.ModuleList(Block() for _ in range(L))
        self.ln, self.head = nn.LayerNorm(D), nn.Linear(D, V)

    def forward(self, ids, patches=None, record=None):
        x = self.emb(ids)
        for l, blk in enumerate(self.blocks):
            x = blk(x, None if patches is None else patches.get(l), record)
        return self.head(self.ln(x))


model = Decoder()

# --- integrated gradients of one bag -------------------------------------------------
lens = [4, 4, 7, 6]
T = max(lens)
prompts = torch.zeros(len(lens), T, dtype=torch.long)
for i, n in enumerate(lens):
    prompts[i, :n] = torch.randint(2, V, (n,))
pos = torch.tensor([n - 1 for n in lens])
gold = torch.randint(2, V, (len(lens),))
alphas = torch.arange(M).float() / M  # left Riemann
for p in model.parameters():
    p.requires_grad_(False)


def ig_bag():
    rec = []
    with torch.no_grad():
        model(prompts, record=rec)
    acts = torch.stack([r[torch.arange(len(lens)), pos] for r in rec])  # [L, P, FF]
    # Rows ordered (prompt, layer, step), as the Rust batch.
    ids = prompts.repeat_interleave(L * M, dim=0)  # [P*L*M, T]
    row_pos = pos.repeat_interleave(L * M)
    patches, leaves = {}, []
    for l in range(L):
        rows = torch.tensor([(p * L + l) * M + k for p in range(len(lens)) for k in range(M)])
        values = (alphas[None, :, None] * acts[l][:, None, :]).reshape(-1, FF).clone().requires_grad_(True)
        patches[l] = (rows, row_pos[rows], values)
        leaves.append(values)
    logits = model(ids, patches=patches)  # [R, T, V]
    r = torch.arange(ids.shape[0])
    probs = logits[r, row_pos].softmax(-1)
    p_gold = probs[r, gold.repeat_interleave(L * M)]
    grads = torch.autograd.grad(p_gold.sum(), leaves)
    attr = [acts[l] * grads[l].view(len(lens), M, FF).mean(1) for l in range(L)]
    attr[0].sum().item()


run("kn_ig_bag4_m20", 3, 20, ig_bag)

# --- one training step -----------------------------------------------------------------
for p in model.parameters():
    p.requires_grad_(True)
B, TT = 64, 15
decay = [p for p in model.parameters() if p.dim() >= 2]
no_decay = [p for p in model.parameters() if p.dim() < 2]
opt = torch.optim.AdamW(
    [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
    lr=1e-3,
    eps=1e-8,
)
ids = torch.randint(0, V, (B, TT))
tgt = torch.randint(0, V, (B, TT))
mask = torch.zeros(B, TT)
mask[:, -3:] = 1.0


def step():
    opt.zero_grad()
    logits = model(ids)
    lp = F.log_softmax(logits, -1).gather(2, tgt[..., None]).squeeze(-1)
    loss = -(lp * mask).sum() / mask.sum()
    loss.item()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()


run("kn_train_step_b64", 5, 30, step)

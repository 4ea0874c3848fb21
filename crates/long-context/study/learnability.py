"""Learnability study of the KV-document task (design input for the quick profile; not part of
any reported number). A PyTorch port of the crate's generator (same layout rules, its own RNG)
and of the shared decoder (the benchmark twin's architecture), trained with the crate's recipe
(AdamW wd 0.01, eps 1e-8, per-tensor clip 1.0, warm-up then linear decay). It measures how
near and far retrieval accuracy evolve over steps for a few generator settings, so that a
budget can be chosen *before* the Rust reproduction is run.

Usage: python learnability.py NAME [key=value ...]   (prints one JSON line per evaluation)
"""
import json, math, os, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(int(os.environ.get("THREADS", "1")))

N_FILLER, REC, QUERY, ANS, SEP, PAD, KEY0, VAL0, N_SYM, VOCAB, SEG = 80, 80, 81, 82, 83, 84, 85, 109, 24, 133, 7

CFG = dict(len=128, short=16, pairs=4, p_far=0.5, classes=80, d=64, heads=4, layers=2, batch=8,
           lr=1e-3, warmup=100, steps=1000, final=0.1, eval_every=250, records=4, prompts=100,
           key_syms=2, seed=0, device="cpu", s1=0, lr2=1.5e-3)
for a in sys.argv[2:]:
    k, v = a.split("=")
    CFG[k] = type(CFG[k])(v) if not isinstance(CFG[k], bool) else v == "1"
NAME = sys.argv[1]


class Chain:
    def __init__(self, rng, classes):
        self.classes = classes
        self.succ = []
        for _ in range(classes * N_FILLER):
            m = 3 + rng.integers(4)
            toks = rng.permutation(N_FILLER)[:m]
            w = 1.0 / np.arange(1, m + 1)
            w = rng.permutation(w / w.sum())
            self.succ.append((toks, w))

    def stream(self, n, rng):
        out = [int(rng.integers(N_FILLER)), int(rng.integers(N_FILLER))]
        while len(out) < n:
            toks, w = self.succ[(out[-2] % self.classes) * N_FILLER + out[-1]]
            out.append(int(toks[rng.choice(len(toks), p=w)]))
        return out[:n]


def keys(n, rng):
    ks = rng.permutation(N_SYM * N_SYM)[:n]
    return [(KEY0 + k // N_SYM, KEY0 + k % N_SYM) for k in ks]


def doc(cfg, chain, rng):
    t, s = cfg["len"], cfg["short"]
    free = np.ones(t, bool)
    ids = np.full(t, -1)
    role = np.zeros(t, int)
    for key in keys(cfg["pairs"], rng):
        far = rng.random() < cfg["p_far"]
        lo, hi = (s + 8, t - 1) if far else (11, s - 1)
        v = (VAL0 + rng.integers(N_SYM), VAL0 + rng.integers(N_SYM))
        for _ in range(1000):
            d = lo + rng.integers(hi - lo + 1)
            if d + SEG > t:
                continue
            r = rng.integers(t - (d - 4) - SEG + 1)
            q = r + d - 4
            if free[r:r + SEG].all() and free[q:q + SEG].all() and abs(q - r) >= SEG:
                free[r:r + SEG] = False
                free[q:q + SEG] = False
                ids[r:r + SEG] = [REC, key[0], key[1], ANS, v[0], v[1], SEP]
                ids[q:q + SEG] = [QUERY, key[0], key[1], ANS, v[0], v[1], SEP]
                role[q + 4:q + 6] = 2 if far else 1
                break
        else:
            raise RuntimeError("cannot place")
    ids[free] = chain.stream(int(free.sum()), rng)
    role[free] = 3
    return ids, role


def prompts(cfg, chain, rng, lo, hi, n):
    t = cfg["len"]
    out, ans = [], []
    for _ in range(n):
        ks = keys(cfg["records"], rng)
        free = np.ones(t, bool)
        free[t - 4:] = False
        ids = np.full(t, -1)
        d = lo + rng.integers(hi - lo + 1)
        for k, key in enumerate(ks):
            v = (VAL0 + rng.integers(N_SYM), VAL0 + rng.integers(N_SYM))
            if k == 0:
                r = t - d
            else:
                while True:
                    r = rng.integers(t - 4 - SEG + 1)
                    if free[r:r + SEG].all():
                        break
            free[r:r + SEG] = False
            ids[r:r + SEG] = [REC, key[0], key[1], ANS, v[0], v[1], SEP]
            if k == 0:
                ids[t - 4:] = [QUERY, key[0], key[1], ANS]
                ans.append(v)
        ids[free] = chain.stream(int(free.sum()), rng)
        out.append(ids)
    return torch.tensor(np.array(out)), torch.tensor(np.array(ans))


def rope_tables(t, dh, base=10000.0):
    inv = base ** (-torch.arange(0, dh, 2).float() / dh)
    ang = torch.arange(t).float()[:, None] * inv[None, :]
    return ang.cos(), ang.sin()


class Block(nn.Module):
    def __init__(s, D, H, FF):
        super().__init__()
        s.H = H
        s.ln1, s.ln2 = nn.LayerNorm(D), nn.LayerNorm(D)
        s.q, s.k, s.v, s.o = (nn.Linear(D, D) for _ in range(4))
        s.up, s.down = nn.Linear(D, FF), nn.Linear(FF, D)

    def forward(s, x, cos, sin):
        b, t, D = x.shape
        n = s.ln1(x)
        split = lambda y: y.view(b, t, s.H, D // s.H).transpose(1, 2)

        def rope(y):
            y0, y1 = y[..., 0::2], y[..., 1::2]
            return torch.stack((y0 * cos[:t] - y1 * sin[:t], y0 * sin[:t] + y1 * cos[:t]), -1).flatten(-2)

        q, k, v = rope(split(s.q(n))), rope(split(s.k(n))), split(s.v(n))
        ctx = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + s.o(ctx.transpose(1, 2).reshape(b, t, D))
        return x + s.down(F.gelu(s.up(s.ln2(x))))


class Decoder(nn.Module):
    def __init__(s, D, H, L, T):
        super().__init__()
        s.emb = nn.Embedding(VOCAB, D)
        s.blocks = nn.ModuleList(Block(D, H, 4 * D) for _ in range(L))
        s.ln, s.head = nn.LayerNorm(D), nn.Linear(D, VOCAB)
        cos, sin = rope_tables(T + 8, D // H)
        s.register_buffer("cos", cos)
        s.register_buffer("sin", sin)

    def forward(s, ids):
        x = s.emb(ids)
        for b in s.blocks:
            x = b(x, s.cos, s.sin)
        return s.head(s.ln(x))


def main():
    c = CFG
    torch.manual_seed(c["seed"])
    dev = torch.device(c["device"])
    chain = Chain(np.random.default_rng(1234), c["classes"])
    rng = np.random.default_rng(c["seed"] + 1)
    erng = np.random.default_rng(999)
    s, t = c["short"], c["len"]
    buckets = {"near": (11, s - 1), "far": (s + 8, t - 12)}
    evalsets = {k: prompts(c, chain, erng, lo, hi, c["prompts"]) for k, (lo, hi) in buckets.items()}
    model = Decoder(c["d"], c["heads"], c["layers"], t).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=c["lr"], weight_decay=0.01, eps=1e-8)
    t0 = time.time()
    losses = []
    role_nll = {1: [], 2: [], 3: []}
    for step in range(c["steps"]):
        if c["s1"] and step < c["s1"]:  # stage 1: near-only documents, same recipe
            lr = c["lr"] * (step + 1) / c["warmup"] if step < c["warmup"] else \
                c["lr"] * (1 - (1 - c["final"]) * (step - c["warmup"]) / max(1, c["s1"] - c["warmup"]))
        elif c["s1"]:  # stage 2: mixed documents, warm-up S2/10, linear decay to 0
            k, n2 = step - c["s1"], c["steps"] - c["s1"]
            lr = c["lr2"] * (k + 1) / (n2 // 10) if k < n2 // 10 else c["lr2"] * (1 - (k - n2 // 10) / (n2 - n2 // 10))
        else:
            lr = c["lr"] * (step + 1) / c["warmup"] if step < c["warmup"] else \
                c["lr"] * (1 - (1 - c["final"]) * (step - c["warmup"]) / max(1, c["steps"] - c["warmup"]))
        cfg_step = dict(c, p_far=0.0) if c["s1"] and step < c["s1"] else c
        for g in opt.param_groups:
            g["lr"] = lr
        docs = [doc(cfg_step, chain, rng) for _ in range(c["batch"])]
        ids = torch.tensor(np.array([d[0] for d in docs])).to(dev)
        role = torch.tensor(np.array([d[1] for d in docs]))[:, 1:].reshape(-1)
        logits = model(ids[:, :-1])
        nll = F.cross_entropy(logits.reshape(-1, VOCAB), ids[:, 1:].reshape(-1), reduction="none")
        loss = nll.mean()
        for r in (1, 2, 3):
            sel = role == r
            if sel.any():
                role_nll[r].append(nll.detach()[sel].mean().item())
        opt.zero_grad()
        loss.backward()
        for p in model.parameters():
            torch.nn.utils.clip_grad_norm_([p], 1.0)
        opt.step()
        losses.append(loss.item())
        if (step + 1) % c["eval_every"] == 0 or step + 1 == c["steps"]:
            accs = {}
            with torch.no_grad():
                for k, (p, a) in evalsets.items():
                    p, a = p.to(dev), a.to(dev)
                    v1 = model(p)[:, -1].argmax(-1)
                    v2 = model(torch.cat([p, v1[:, None]], 1))[:, -1].argmax(-1)
                    accs[k] = ((v1 == a[:, 0]) & (v2 == a[:, 1])).float().mean().item()
            print(json.dumps(dict(name=NAME, step=step + 1, loss=float(np.mean(losses[-50:])),
                                  near_nll=round(float(np.mean(role_nll[1][-50:])), 3),
                                  far_nll=round(float(np.mean(role_nll[2][-50:])), 3),
                                  filler_nll=round(float(np.mean(role_nll[3][-50:])), 3),
                                  secs=round(time.time() - t0, 1), **accs)), flush=True)


main()

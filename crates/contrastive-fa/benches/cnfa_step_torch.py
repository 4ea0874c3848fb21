"""PyTorch twin of cnfa_step.rs: 512 rows (two views of 256) through the backbone
(Linear 64-256, BatchNorm1d, ReLU, Linear 256-256, BatchNorm1d, ReLU), then
- CNFA: heads Linear 256-64 (x2), k = clamp(softplus(a), 0.1, 1e3), lambda =
  clamp(softplus(b), 1e-10, 1e6), u ~ U(0,1) clamped to [1e-6, 1-1e-6],
  theta = lambda * exp(log(-log1p(-u)) / k), Weibull-Gamma KL (alpha 1, beta 1, lgamma),
- CFA: mu = a, log_var = clamp(b, -10, 5), theta = mu + exp(log_var/2) * eps, Gaussian KL,
- SimCLR: projector Linear 256-1024, ReLU, Linear 1024-64,
NT-Xent with tau 0.2 (self-similarity masked with -1e9) on theta (beta 1e-2 times the
mean KL), backward, Adam lr 1e-3 eps 1e-8, 2 threads, the shared timing rule."""
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
EULER = 0.5772156649015329


def backbone():
    return nn.Sequential(
        nn.Linear(64, 256), nn.BatchNorm1d(256), nn.ReLU(),
        nn.Linear(256, 256), nn.BatchNorm1d(256), nn.ReLU(),
    )


def nt_xent(z1, z2, tau):
    n = z1.shape[0]
    u = F.normalize(torch.cat([z1, z2]), dim=1, eps=1e-12)
    logits = u @ u.t() / tau - torch.eye(2 * n) * 1e9
    partner = (torch.arange(2 * n) + n) % (2 * n)
    return F.cross_entropy(logits, partner)


def kl_weibull_gamma(k, lam, a, b):
    return (EULER * a / k - a * torch.log(lam) + torch.log(k)
            + b * torch.exp(torch.lgamma(1 + 1 / k) + torch.log(lam))
            - EULER - 1 - a * math.log(b) + math.lgamma(a)).sum(1)


class Factor(nn.Module):
    def __init__(self, weibull):
        super().__init__()
        self.weibull = weibull
        self.body = backbone()
        self.ha, self.hb = nn.Linear(256, 64), nn.Linear(256, 64)

    def loss(self, x1, x2, beta):
        b = self.body(torch.cat([x1, x2]))
        a, c = self.ha(b), self.hb(b)
        if self.weibull:
            k = F.softplus(a).clamp(0.1, 1e3)
            lam = F.softplus(c).clamp(1e-10, 1e6)
            u = torch.rand_like(k).clamp(1e-6, 1 - 1e-6)
            theta = lam * torch.exp(torch.log(-torch.log1p(-u)) / k)
            kl = kl_weibull_gamma(k, lam, 1.0, 1.0)
        else:
            log_var = c.clamp(-10, 5)
            theta = a + torch.exp(0.5 * log_var) * torch.randn_like(a)
            kl = 0.5 * (a ** 2 + log_var.exp() - 1 - log_var).sum(1)
        n = x1.shape[0]
        return nt_xent(theta[:n], theta[n:], 0.2) + beta * kl.mean()


class SimCLR(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = backbone()
        self.proj = nn.Sequential(nn.Linear(256, 1024), nn.ReLU(), nn.Linear(1024, 64))

    def loss(self, x1, x2, beta):
        z = self.proj(self.body(torch.cat([x1, x2])))
        n = x1.shape[0]
        return nt_xent(z[:n], z[n:], 0.2)


x1, x2 = torch.rand(256, 64), torch.rand(256, 64)
for name, model in [("cnfa_step_b256_k64", Factor(True)), ("cfa_step_b256_k64", Factor(False)),
                    ("simclr_step_b256_k64", SimCLR())]:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)

    def step():
        opt.zero_grad()
        loss = model.loss(x1, x2, 1e-2)
        loss.item()
        loss.backward()
        opt.step()

    run(name, 5, 40, step)

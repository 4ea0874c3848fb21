"""PyTorch twin of joint_step.rs: the same conditional RealNVP (8 couplings, conditioner
[h*m, y] -> 64 -> 64 -> 4, SiLU, tanh-bounded log-scale, residual base), the same MLP
denoiser ([x_t, e(lambda)] -> 128 x3 -> 2), the same flow objective with K = 8 ELBO draws
against a frozen EMA denoiser, the same DSM step on fresh flow samples and EMA update;
Adam(eps=1e-8), each parameter's gradient clipped to norm 1 (as Burn's per-tensor clipping),
2 threads, same timing rule (warm-up untimed, then per-iteration wall time; a scalar is read
back every iteration)."""
import copy, json, math, os, time
import torch
import pathlib, sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "xtask" / "python"))
from repro_bench import run  # noqa: E402  (the shared timing rule)

torch.set_num_threads(int(os.environ.get("REPRO_THREADS", "2")))
torch.manual_seed(0)
B, K, D, SIGMA = 256, 8, 2, 0.5
LMAX, LMIN = 10.0, -10.0

# ring8 observations, N = 5 000
k = torch.randint(0, 8, (5000,))
ang = 2 * math.pi * k / 8
x = torch.stack([2 * torch.cos(ang), 2 * torch.sin(ang)], 1) + 0.1 * torch.randn(5000, 2)
y_all = x + SIGMA * torch.randn(5000, 2)


class Coupling(torch.nn.Module):
    def __init__(self, mask):
        super().__init__()
        self.register_buffer("m", mask.view(1, D))
        self.net = torch.nn.Sequential(torch.nn.Linear(2 * D, 64), torch.nn.SiLU(), torch.nn.Linear(64, 64), torch.nn.SiLU())
        self.out = torch.nn.Linear(64, 2 * D)
        torch.nn.init.zeros_(self.out.weight)
        torch.nn.init.zeros_(self.out.bias)

    def forward(self, h, y):
        o = self.out(self.net(torch.cat([h * self.m, y], 1)))
        free = 1 - self.m
        log_s = 2.0 * torch.tanh(o[:, :D] / 2.0) * free
        t = o[:, D:] * free
        return h * torch.exp(log_s) + t, log_s.sum(1)


class Flow(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c = torch.nn.ModuleList([Coupling(torch.tensor([1.0, 0.0]) if i % 2 == 0 else torch.tensor([0.0, 1.0])) for i in range(8)])
        self.l = torch.nn.Parameter(torch.full((D,), math.log(SIGMA)))

    def forward(self, z, y):
        h, ld = z, torch.zeros(z.shape[0])
        for c in self.c:
            h, l = c(h, y)
            ld = ld + l
        return y + torch.exp(self.l) * h, ld + self.l.sum()


def emb(lam):
    u = (lam / 10).unsqueeze(1)
    arg = u * (math.pi * 2.0 ** torch.arange(4.0)).unsqueeze(0)
    return torch.cat([u, torch.sin(arg), torch.cos(arg)], 1)


class Den(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(D + 9, 128), torch.nn.SiLU(), torch.nn.Linear(128, 128), torch.nn.SiLU(),
                                       torch.nn.Linear(128, 128), torch.nn.SiLU(), torch.nn.Linear(128, D))

    def forward(self, xt, lam):
        return self.net(torch.cat([xt, emb(lam)], 1))


def diffuse(x0, eps, t):
    lam = LMAX + t * (LMIN - LMAX)
    a = torch.sigmoid(lam).sqrt().unsqueeze(1)
    s = torch.sigmoid(-lam).sqrt().unsqueeze(1)
    return a * x0 + s * eps, lam


flow, den = Flow(), Den()
ema = copy.deepcopy(den)
for p in ema.parameters():
    p.requires_grad_(False)
opt_f = torch.optim.Adam(flow.parameters(), lr=5e-4, betas=(0.9, 0.999), eps=1e-8)
opt_d = torch.optim.Adam(den.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)


def clip(params):
    for p in params:
        if p.grad is not None:
            torch.nn.utils.clip_grad_norm_([p], 1.0)


def batch():
    return y_all[torch.randint(0, 5000, (B,))]


def flow_step():
    y = batch()
    z = torch.randn(B, D)
    xs, ld = flow(z, y)
    data = ((y - xs) ** 2).sum(1) / (2 * SIGMA ** 2)
    xk = xs.unsqueeze(1).expand(B, K, D).reshape(B * K, D)
    u = torch.rand(B, 1)
    t = ((u + torch.arange(K).unsqueeze(0)) / K).remainder(1.0).reshape(B * K)
    eps = torch.randn(B * K, D)
    xt, lam = diffuse(xk, eps, t)
    prior = ((ema(xt, lam) - eps) ** 2).sum(1).view(B, K).mean(1) * 0.5 * (LMAX - LMIN)
    loss = (data + prior - ld).mean()
    opt_f.zero_grad(set_to_none=True)
    loss.backward()
    clip(flow.parameters())
    opt_f.step()
    return loss.item()


def dm_step():
    y = batch()
    with torch.no_grad():
        x0, _ = flow(torch.randn(B, D), y)
    eps = torch.randn(B, D)
    xt, lam = diffuse(x0, eps, torch.rand(B))
    loss = ((den(xt, lam) - eps) ** 2).mean()
    opt_d.zero_grad(set_to_none=True)
    loss.backward()
    clip(den.parameters())
    opt_d.step()
    with torch.no_grad():
        for pe, p in zip(ema.parameters(), den.parameters()):
            pe.mul_(0.998).add_(p, alpha=0.002)
    return loss.item()


run("flowdiff_joint_step_b256_k8", 10, 100, lambda: (flow_step(), dm_step()))
run("flowdiff_flow_step_b256_k8", 10, 100, flow_step)
run("flowdiff_dm_step_b256", 10, 100, dm_step)

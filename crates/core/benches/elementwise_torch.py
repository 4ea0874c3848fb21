"""PyTorch twin of elementwise.rs: the same ops on a 256 x 4096 float32 tensor, 2 threads,
the shared timing rule (a scalar is read back every iteration)."""
import os
import pathlib
import sys

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "xtask" / "python"))
from repro_bench import run  # noqa: E402  (the shared timing rule)

torch.set_num_threads(int(os.environ.get("REPRO_THREADS", "2")))
torch.manual_seed(0)
x = torch.randn(256, 4096) * 2.0
xa = x.clone().requires_grad_(True)
gelu = torch.nn.functional.gelu  # approximate="none": the exact erf form, as Burn's


def fwd_bwd():
    (g,) = torch.autograd.grad(gelu(xa).sum(), xa)
    g.sum().item()


with torch.no_grad():
    run("exp_256x4096", 5, 50, lambda: torch.exp(x).sum().item())
    run("gelu_256x4096", 5, 50, lambda: gelu(x).sum().item())
    run("sigmoid_256x4096", 5, 50, lambda: torch.sigmoid(x).sum().item())
    run("softmax_rows_256x4096", 5, 50, lambda: torch.softmax(x, 1).sum().item())
run("gelu_fwd_bwd_256x4096", 5, 50, fwd_bwd)

"""PyTorch twin of mlp_step.rs: same shapes, same optimiser, 2 threads, same timing rule
(warm-up untimed, then per-iteration wall time; a scalar is read back every iteration)."""
import json, os, time, gzip, pathlib
import torch

torch.set_num_threads(int(os.environ.get("REPRO_THREADS", "2")))
torch.manual_seed(0)
root = pathlib.Path(__file__).resolve().parents[3]
rows = [list(map(int, l.split(","))) for l in gzip.open(root / "datasets/digits/digits.csv.gz", "rt").read().splitlines()]
x = torch.tensor([r[:64] for r in rows[:256]], dtype=torch.float32) / 16.0
y = torch.tensor([r[64] for r in rows[:256]])
model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2, eps=1e-8)
loss_fn = torch.nn.CrossEntropyLoss()


def run(name, warmup, iters, f):
    for _ in range(warmup):
        f()
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        f()
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    med = times[iters // 2] if iters % 2 else 0.5 * (times[iters // 2 - 1] + times[iters // 2])
    r = {"name": name, "iters": iters, "median_ms": med, "mean_ms": sum(times) / iters, "min_ms": times[0], "max_ms": times[-1]}
    print(f"{name:<32} median {med:9.3f} ms")
    print("BENCH_JSON " + json.dumps(r))


def train_step():
    opt.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()
    model[2].bias.sum().item()


def forward():
    with torch.no_grad():
        model(x).sum().item()


run("mlp_train_step_b256", 20, 200, train_step)
run("mlp_forward_b256", 20, 200, forward)

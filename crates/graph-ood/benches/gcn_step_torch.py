"""PyTorch twin of gcn_step.rs: the same GCN (3 x GCNConv 128 by index_add_, BatchNorm1d,
ReLU, dropout 0.5, Linear), the same Cora-Planetoid graph and features read from the mirror's
cora.npz (parsed without numpy), cross-entropy on every other node, Adam(lr 1e-3, eps 1e-8),
2 threads; the same timing rule (untimed warm-up, per-iteration wall time, a scalar read back)."""
import ast, io, json, os, pathlib, time, zipfile
import torch
import pathlib, sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "xtask" / "python"))
from repro_bench import run  # noqa: E402  (the shared timing rule)

torch.set_num_threads(int(os.environ.get("REPRO_THREADS", "2")))
torch.manual_seed(0)
root = pathlib.Path(__file__).resolve().parents[3]
mirror = pathlib.Path(os.environ.get("REPRO_DATA_MIRROR", root.parent / "shared/datasets"))
DT = {"<f4": torch.float32, "<i4": torch.int32, "<i8": torch.int64, "|i1": torch.int8}


def npz(path):
    out = {}
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            b = z.read(name)
            if b[6] == 1:
                hl, off = int.from_bytes(b[8:10], "little"), 10
            else:
                hl, off = int.from_bytes(b[8:12], "little"), 12
            h = ast.literal_eval(b[off:off + hl].decode("latin1"))
            if h["descr"] in DT:
                t = torch.frombuffer(bytearray(b[off + hl:]), dtype=DT[h["descr"]])
                out[name[:-4]] = t.reshape(h["shape"])
    return out


d = npz(mirror / "cora/cora.npz")
n = int(d["attr_shape"][0]); f = int(d["attr_shape"][1])
x = torch.zeros(n, f)
ip, ix, iv = d["attr_indptr"].long(), d["attr_indices"].long(), d["attr_data"]
rows = torch.repeat_interleave(torch.arange(n), ip[1:] - ip[:-1])
x[rows, ix] = iv
ap, ai = d["adj_indptr"].long(), d["adj_indices"].long()
ar = torch.repeat_interleave(torch.arange(n), ap[1:] - ap[:-1])
pairs = torch.stack([torch.minimum(ar, ai), torch.maximum(ar, ai)], 1)
pairs = pairs[pairs[:, 0] != pairs[:, 1]].unique(dim=0)
src = torch.cat([pairs[:, 0], pairs[:, 1], torch.arange(n)])
dst = torch.cat([pairs[:, 1], pairs[:, 0], torch.arange(n)])
deg = torch.zeros(n).index_add_(0, dst, torch.ones(dst.shape[0]))
norm = (deg[src] * deg[dst]).rsqrt().unsqueeze(1)
y = d["labels"].long()
train = torch.arange(0, n, 2)


class Gcn(torch.nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.w = torch.nn.Parameter(torch.empty(i, o)); torch.nn.init.xavier_uniform_(self.w)
        self.b = torch.nn.Parameter(torch.zeros(o))

    def forward(self, h):
        h = h @ self.w
        return torch.zeros_like(h).index_add_(0, dst, h.index_select(0, src) * norm) + self.b


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.convs = torch.nn.ModuleList([Gcn(f, 128), Gcn(128, 128), Gcn(128, 128)])
        self.bns = torch.nn.ModuleList([torch.nn.BatchNorm1d(128) for _ in range(3)])
        self.cls = torch.nn.Linear(128, int(y.max()) + 1)

    def forward(self, h):
        for k, (c, bn) in enumerate(zip(self.convs, self.bns)):
            h = bn(c(h))
            if k < 2:
                h = torch.relu(h)
            h = torch.nn.functional.dropout(h, 0.5, self.training)
        return self.cls(h)


model = Net()
opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)


def train_step():
    model.train()
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(x)[train], y[train])
    loss.item()
    loss.backward()
    opt.step()


def forward():
    model.eval()
    with torch.no_grad():
        model(x).sum().item()


run("gcn_cora_train_step", 5, 30, train_step)
run("gcn_cora_eval_forward", 5, 30, forward)

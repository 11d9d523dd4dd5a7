"""FLOPs of an MLP's training run, and the time its matrix products alone take on this device (`torch.mm` at the
layer shapes, measured in the calling process), for `bench/run.py`.

FLOPs (one multiply-add = 2 FLOPs; bias adds, activations, the loss and the optimizer are left out, under 1% here):
for layers `d0 -> d1 -> ... -> dL` and one sample,
- forward: sum over layers of `2 d_in d_out`;
- backward: the weight gradient of every layer (`2 d_in d_out` each) and the input gradient of every layer but the
  first (`2 d_in d_out` each): nothing needs the gradient with respect to the images.
For 784-256-10: forward 406,528, backward 411,648, a training sample 818,176 FLOPs (the rule of thumb "backward = 2 x
forward" gives 1.22 MFLOP, counting the first layer's input gradient that is never computed). A test sample costs
one forward.
"""
from __future__ import annotations
import statistics, time
import torch

def mlp_flops(sizes=(784, 256, 10), # features of each layer, input first
              n_train:int=60000, n_test:int=10000, num_epochs:int=10)->dict:
    "FLOPs per sample (forward, backward, training) and for the whole run (training plus one test pass per epoch)."
    pairs = list(zip(sizes, sizes[1:]))
    fwd = sum(2 * a * b for a, b in pairs)
    bwd = sum(2 * a * b for a, b in pairs) + sum(2 * a * b for a, b in pairs[1:])
    per_epoch = n_train * (fwd + bwd) + n_test * fwd
    return dict(forward_per_sample=fwd, backward_per_sample=bwd, train_per_sample=fwd + bwd,
                per_epoch=per_epoch, total=num_epochs * per_epoch)

def gemms(B:int, sizes=(784, 256, 10), train:bool=True)->dict:
    "The matrix products of one step at batch `B`, as `name: (shape of A, shape of B, transpose A, transpose B)`."
    out = {}
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        out[f'fwd{i+1}'] = ((B, a), (b, a), False, True)               # X @ W.T
        if train:
            out[f'dW{i+1}'] = ((B, b), (B, a), True, False)            # dY.T @ X
            if i: out[f'dX{i+1}'] = ((B, b), (b, a), False, False)     # dY @ W
    return out

def _sync(device):
    if device.type == 'cuda': torch.cuda.synchronize(device)

def time_gemm(shape_a, shape_b, ta:bool, tb:bool, device, dtype=torch.float32, min_s:float=0.01, repeats:int=3)->float:
    "Seconds per `torch.mm` of these operands (the best of `repeats` timed loops of at least `min_s` each)."
    g = torch.Generator().manual_seed(0)
    A = torch.randn(shape_a, generator=g).to(device, dtype); Bm = torch.randn(shape_b, generator=g).to(device, dtype)
    A, Bm = (A.t() if ta else A), (Bm.t() if tb else Bm)
    torch.mm(A, Bm); _sync(device)
    n, best = 1, float('inf')
    while True:  # find a loop long enough to time
        t = time.perf_counter()
        for _ in range(n): torch.mm(A, Bm)
        _sync(device); dt = time.perf_counter() - t
        if dt >= min_s or n >= 1 << 16: break
        n *= 2
    best = dt / n
    for _ in range(repeats - 1):
        t = time.perf_counter()
        for _ in range(n): torch.mm(A, Bm)
        _sync(device); best = min(best, (time.perf_counter() - t) / n)
    return best

def probe(B:int, B_eval:int, device, sizes=(784, 256, 10), dtype=torch.float32, min_s:float=0.01)->dict:
    "Seconds per call of every product of a training step at batch `B` and of an evaluation step at `B_eval`."
    device = torch.device(device)
    out = {k: time_gemm(*v, device, dtype, min_s) for k, v in gemms(B, sizes).items()}
    out.update({f'eval_{k}': time_gemm(*v, device, dtype, min_s) for k, v in gemms(B_eval, sizes, train=False).items()})
    return out

def limit_seconds(probes:list[dict], B:int, B_eval:int, n_train:int=60000, n_test:int=10000, num_epochs:int=10)->dict:
    "The time the run's matrix products alone take, from the median of each product's probes: the run's floor."
    med = {k: statistics.median(p[k] for p in probes) for k in probes[0]}
    train_step = sum(v for k, v in med.items() if not k.startswith('eval_'))
    eval_step = sum(v for k, v in med.items() if k.startswith('eval_'))
    per_epoch = n_train / B * train_step + n_test / B_eval * eval_step  # the last, partial batch pro rata
    return dict(per_epoch_s=per_epoch, total_s=num_epochs * per_epoch, gemm_us={k: round(v * 1e6, 2) for k, v in med.items()})

def efficiency(sizes, B, B_eval, probes, epoch_seconds, n_train=60000, n_test=10000)->dict:
    "The run's FLOP rate against the rate of its own matrix products measured in this process."
    E = len(epoch_seconds)
    fl = mlp_flops(sizes, n_train, n_test, E)
    lim = limit_seconds(probes, B, B_eval, n_train, n_test, E)
    run_s = sum(epoch_seconds)
    return dict(flops=fl, run_s=round(run_s, 4), limit_s=round(lim['total_s'], 4),
                run_gflops=round(fl['total'] / run_s / 1e9, 2), mm_gflops=round(fl['total'] / lim['total_s'] / 1e9, 2),
                efficiency=round(lim['total_s'] / run_s, 3),
                efficiency_best_epoch=round(lim['per_epoch_s'] / min(epoch_seconds), 3), gemm_us=lim['gemm_us'])

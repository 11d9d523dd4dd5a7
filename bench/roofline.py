"""FLOPs of an MLP's training run, and the time its matrix products alone take on this device (`torch.mm` at the
layer shapes, measured in the calling process): the run's floor.

FLOPs (one multiply-add = 2 FLOPs; bias adds, activations, the loss and the optimizer are left out, under 1% here):
for layers `d0 -> d1 -> ... -> dL` and one sample, the forward pass costs `2 d_in d_out` per layer; the backward pass
the weight gradient of every layer and the input gradient of every layer but the first (nothing needs the gradient
with respect to the images), `2 d_in d_out` each. For 784-256-10: forward 406,528, backward 411,648, a training
sample 818,176 FLOPs. A test sample costs one forward.
"""
from __future__ import annotations
import statistics
import torch
from mlp_nbdev.inference import timed

def mlp_flops(sizes=(784, 256, 10), n_train:int=60000, n_test:int=10000, num_epochs:int=10)->dict:
    "FLOPs per sample (forward, backward, training) and for the whole run (training plus one test pass per epoch)."
    pairs = list(zip(sizes, sizes[1:]))
    fwd = sum(2 * a * b for a, b in pairs)
    bwd = fwd + sum(2 * a * b for a, b in pairs[1:])
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

def time_gemm(shape_a, shape_b, ta:bool, tb:bool, device, dtype=torch.float32, min_s:float=0.01, repeats:int=3)->float:
    "Seconds per `torch.mm` of these operands: the best of `repeats` timed loops of at least `min_s` each."
    g = torch.Generator().manual_seed(0)
    A, Bm = (torch.randn(s, generator=g).to(device, dtype) for s in (shape_a, shape_b))
    A, Bm = (A.t() if ta else A), (Bm.t() if tb else Bm)
    def loop():
        for _ in range(n): torch.mm(A, Bm)
    n = 1
    while (dt := timed(loop, device)) < min_s and n < 1 << 16: n *= 2  # the first loops warm up, too
    return min([dt] + [timed(loop, device) for _ in range(repeats - 1)]) / n

def probe(B:int, B_eval:int, device, sizes=(784, 256, 10), dtype=torch.float32, min_s:float=0.01)->dict:
    "Seconds per call of every product of a training step at batch `B` and of an evaluation step at `B_eval`."
    device = torch.device(device)
    out = {k: time_gemm(*v, device, dtype, min_s) for k, v in gemms(B, sizes).items()}
    out.update({f'eval_{k}': time_gemm(*v, device, dtype, min_s) for k, v in gemms(B_eval, sizes, train=False).items()})
    return out

def efficiency(sizes, B, B_eval, probes:list[dict], epoch_seconds, n_train=60000, n_test=10000)->dict:
    "The run's floor (its products' time, from the median of each product's probes) and the run's share of it."
    med = {k: statistics.median(p[k] for p in probes) for k in probes[0]}
    step = sum(v for k, v in med.items() if not k.startswith('eval_'))
    eval_step = sum(v for k, v in med.items() if k.startswith('eval_'))
    per_epoch = n_train / B * step + n_test / B_eval * eval_step  # the last, partial batch pro rata
    run_s, limit_s = sum(epoch_seconds), len(epoch_seconds) * per_epoch
    fl = mlp_flops(sizes, n_train, n_test, len(epoch_seconds))
    return dict(flops=fl, run_s=round(run_s, 4), limit_s=round(limit_s, 4),
                run_gflops=round(fl['total'] / run_s / 1e9, 2), mm_gflops=round(fl['total'] / limit_s / 1e9, 2),
                efficiency=round(limit_s / run_s, 3), efficiency_best_epoch=round(per_epoch / min(epoch_seconds), 3),
                gemm_us={k: round(v * 1e6, 2) for k, v in med.items()})

"""Training in the calling process, measured on the seed recipe (784-256-10 MLP, SGD lr 0.1, batch 256): the loop
against its matrix-product floor, against a bare loop on the same batches, and where a bare step's time goes."""
from __future__ import annotations
import statistics, time
import torch
from torch import nn
from mlp_nbdev.inference import sync, timed
from mlp_nbdev.recipes import run_recipe
from mlp_nbdev.train import train_ch3, train_epoch
import roofline

SIZES = (784, 256, 10)

def efficiency_run(data, num_epochs:int, seed:int, min_s:float=0.01, bf16:bool=False)->dict:
    """`run_recipe('seed')` on `data`, a `torch.mm` probe after every epoch (not counted), against its floor;
    `bf16`: under bfloat16 autocast, forced whatever the library's probe says, against bfloat16 `torch.mm`."""
    probes, dtype = [], torch.bfloat16 if bf16 else torch.float32
    def probe(epoch, history, net): probes.append(roofline.probe(256, 256, 'cpu', SIZES, dtype, min_s=min_s))
    _, h = run_recipe('seed', num_epochs=num_epochs, seed=seed, data=data, draw=False, verbose=False,
                      on_epoch_end=probe, amp=torch.bfloat16 if bf16 else None)
    return {**roofline.efficiency(SIZES, 256, 256, probes, h.seconds), 'test_acc': round(h.test_acc[-1], 4),
            'epoch_s': [round(s, 3) for s in h.seconds], 'dtype': str(dtype)}

def seed_net(device='cpu'):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)).to(device)
    return net, torch.optim.SGD(net.parameters(), lr=0.1)

def bare_epoch(net, train_iter, loss, opt):
    "The least a training epoch can do."
    net.train()
    for X, y in train_iter:
        l = loss(net(X), y)
        opt.zero_grad(); l.mean().backward(); opt.step()

def against_bare(data, repeats:int=5, device='cpu')->dict:
    """Seconds per epoch of `train_ch3` (one epoch, its test pass included), of its training part (`train_epoch`)
    and of `bare_epoch`, on the same batches held in memory, interleaved so that a busy moment hits all three; the
    medians and their ratios to the bare loop's (`paired`: the median of `train_epoch`'s ratios to adjacent bare
    epochs)."""
    train_iter, test_iter = ([(X, y) for X, y in it] for it in data)
    loss = nn.CrossEntropyLoss(reduction='none')
    runs = {'bare': lambda net, opt: bare_epoch(net, train_iter, loss, opt),
            'train_epoch': lambda net, opt: train_epoch(net, train_iter, loss, opt),
            'train_ch3': lambda net, opt: train_ch3(net, train_iter, test_iter, loss, 1, opt, draw=False,
                                                    verbose=False)}
    nets = {k: seed_net(device) for k in runs}
    times = {k: [] for k in runs}
    for i in range(repeats + 1):  # the first round warms up
        for k, f in runs.items(): times[k].append(timed(lambda: f(*nets[k]), device))
    med = {k: statistics.median(v[1:]) for k, v in times.items()}
    return dict(repeats=repeats, **{f'{k}_s': round(v, 4) for k, v in med.items()},
                train_ch3_over_bare=round(med['train_ch3'] / med['bare'], 3),
                train_epoch_over_bare=round(med['train_epoch'] / med['bare'], 3),
                paired=round(statistics.median(c / b for b, c in zip(times['bare'][1:], times['train_epoch'][1:])), 3))

def phase_split(train_iter, device='cpu', epochs:int=3)->dict:
    """Microseconds per step of the bare loop (the median over `epochs` epochs, after one to warm up) for the batch
    (`data`), the forward pass and loss (`forward`), `zero_grad` and the backward pass (`backward`) and the optimizer
    (`step`); next to them, the step's matrix products timed alone, operands hot in cache (`gemm_*`)."""
    device = torch.device(device)
    net, opt = seed_net(device)
    loss, pc, per_epoch, B = nn.CrossEntropyLoss(), time.perf_counter, [], 0
    for _ in range(epochs + 1):
        T, n, it = dict(data=0., forward=0., backward=0., step=0.), 0, iter(train_iter)
        while True:
            a = pc()
            try: X, y = next(it)
            except StopIteration: break
            B = B or len(y)  # the first batch's size (the last may be short)
            b = pc(); l = loss(net(X), y); sync(device); c = pc()
            opt.zero_grad(); l.backward(); sync(device); d = pc()
            opt.step(); sync(device); e = pc()
            T['data'] += b - a; T['forward'] += c - b; T['backward'] += d - c; T['step'] += e - d; n += 1
        per_epoch.append({k: v / n * 1e6 for k, v in T.items()})
    out = {k: round(statistics.median(p[k] for p in per_epoch[1:]), 1) for k in per_epoch[0]}
    g = roofline.probe(B, B, device)
    out['gemm_forward'] = round(1e6 * sum(v for k, v in g.items() if k.startswith('fwd')), 1)
    out['gemm_backward'] = round(1e6 * sum(v for k, v in g.items() if k.startswith(('dW', 'dX'))), 1)
    return out

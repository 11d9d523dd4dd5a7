"""Time per epoch of mlp_nbdev's `train_ch3` against a bare loop that only does forward, loss, backward and step,
on the seed recipe (784-256-10 MLP, SGD lr 0.1, batch 256, `CrossEntropyLoss(reduction='none')`), over the same
in-memory batches, measured in one run with the contenders interleaved. Prints one JSON line.

    python bench/bench_train.py [--repeats 5] [--data synthetic|real] [--device cpu|cuda|mps]

`train_ch3_s_per_epoch` is a whole `train_ch3` epoch (training and the test-set evaluation, as the issue times it);
`train_epoch_s_per_epoch` is its training part alone. The target is `ratio` (train_ch3 / bare, medians) <= 1.10.
On a shared machine the load moves between epochs; `ratio_of_best` (fastest epoch of each, as `timeit` advises)
and `ratio_paired_median` (median of the ratios of adjacent epochs) are less sensitive to it.
"""
import argparse, json, statistics, sys, time
from pathlib import Path
import torch
from torch import nn
from mlp_nbdev.train import train_ch3, train_epoch, resolve_device
sys.path.insert(0, str(Path(__file__).resolve().parent))  # roofline

def batches(X, y, batch_size):
    return [(X[i:i+batch_size], y[i:i+batch_size]) for i in range(0, len(y), batch_size)]

def get_data(kind, batch_size, device):
    "Fashion-MNIST-shaped batches held in memory: real images if asked (and found), else random ones."
    if kind == 'real':
        from mlp_nbdev.data import load_data_fashion_mnist
        tr, te = load_data_fashion_mnist(batch_size, device=device, seed=0)
        return list(tr), list(te)
    g = torch.Generator().manual_seed(0)
    Xtr, ytr = torch.rand(60000, 1, 28, 28, generator=g), torch.randint(0, 10, (60000,), generator=g)
    Xte, yte = torch.rand(10000, 1, 28, 28, generator=g), torch.randint(0, 10, (10000,), generator=g)
    return batches(Xtr.to(device), ytr.to(device), batch_size), batches(Xte.to(device), yte.to(device), batch_size)

def seed_net(device):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)).to(device)
    return net, torch.optim.SGD(net.parameters(), lr=0.1)

def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize()
    elif device.type == 'mps': torch.mps.synchronize()

def bare_epoch(net, train_iter, loss, trainer):
    "The least a training epoch can do."
    net.train()
    for X, y in train_iter:
        l = loss(net(X), y)
        trainer.zero_grad()
        l.mean().backward()
        trainer.step()

def timed(f, device):
    sync(device); t = time.perf_counter()
    f()
    sync(device)
    return time.perf_counter() - t

def phase_split(train_iter, device='cpu', epochs:int=3)->dict:
    """Where a training step's time goes: microseconds per step (median over `epochs` epochs of the seed recipe's bare
    loop) for the batch (`data`: gather and conversion), the forward pass and loss (`forward`), `zero_grad` and the
    backward pass (`backward`) and the optimizer (`step`), next to the same step's matrix products timed alone with
    operands hot in cache (`roofline.probe`: `gemm_forward`, `gemm_backward`)."""
    import roofline
    device = torch.device(device)
    net, opt = seed_net(device)
    loss, pc, per_epoch, B = nn.CrossEntropyLoss(), time.perf_counter, [], 0
    for _ in range(epochs + 1):  # the first epoch warms up
        T, n, it = dict(data=0., forward=0., backward=0., step=0.), 0, iter(train_iter)
        while True:
            a = pc()
            try: X, y = next(it)
            except StopIteration: break
            B = B or len(y)  # the batch size: the first batch's (the last may be short)
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

def main(repeats=5, data='synthetic', device='cpu', batch_size=256):
    device = resolve_device(device)
    train_iter, test_iter = get_data(data, batch_size, device)
    loss = nn.CrossEntropyLoss(reduction='none')
    nets = {k: seed_net(device) for k in ('bare', 'train_epoch', 'train_ch3')}
    runs = {
        'bare': lambda net, opt: bare_epoch(net, train_iter, loss, opt),
        'train_epoch': lambda net, opt: train_epoch(net, train_iter, loss, opt),
        'train_ch3': lambda net, opt: train_ch3(net, train_iter, test_iter, loss, 1, opt, draw=False, verbose=False),
    }
    for k, f in runs.items(): f(*nets[k])  # warm up
    times = {k: [] for k in runs}
    for _ in range(repeats):  # interleaved, so a busy moment hits every contender alike
        for k, f in runs.items(): times[k].append(timed(lambda: f(*nets[k]), device))
    med = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}
    paired = [c / b for b, c in zip(times['bare'], times['train_ch3'])]  # each ratio from two adjacent epochs
    report = {'device': str(device), 'data': data, 'batch_size': batch_size, 'repeats': repeats,
              'threads': torch.get_num_threads(),
              'bare_s_per_epoch': round(med['bare'], 4),
              'train_epoch_s_per_epoch': round(med['train_epoch'], 4),
              'train_ch3_s_per_epoch': round(med['train_ch3'], 4),
              'ratio': round(med['train_ch3'] / med['bare'], 3),
              'ratio_train_part': round(med['train_epoch'] / med['bare'], 3),
              'ratio_of_best': round(best['train_ch3'] / best['bare'], 3),
              'ratio_paired_median': round(statistics.median(paired), 3),
              'all_s': {k: [round(t, 3) for t in v] for k, v in times.items()},
              'phases_us': phase_split(train_iter, device)}
    print(json.dumps(report))
    return report

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--repeats', type=int, default=5, help='timed epochs per contender; the median is reported (default 5)')
    p.add_argument('--data', choices=('synthetic', 'real'), default='synthetic',
                   help="random Fashion-MNIST-shaped tensors (default) or the real data via mlp_nbdev.data")
    p.add_argument('--device', default='cpu', help="'cpu' (default), 'cuda' or 'mps'")
    p.add_argument('--threads', type=int, default=None, help="torch's intra-op threads (default: torch's default)")
    p.add_argument('--batch-size', type=int, default=256, help='samples per batch (default 256)')
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    main(a.repeats, a.data, a.device, a.batch_size)

"""One full pass over Fashion-MNIST's training split: mlp_nbdev's fast loader against torchvision's
`FashionMNIST` + `ToTensor` + `DataLoader` (num_workers 0 and 2), measured in one run. Prints one JSON line.

    python bench/bench_data.py [--batch-size 256] [--repeats 3]
"""
import argparse, json, statistics, time
import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms
from mlp_nbdev.data import get_fashion_mnist, load_data_fashion_mnist

def one_pass(it):
    "Seconds to draw every batch of `it` once, touching each so nothing stays lazy."
    t = time.perf_counter(); n = 0
    for X, y in it: n += len(y); X.sum()
    secs = time.perf_counter() - t
    if n != 60000: raise RuntimeError(f"a pass saw {n} samples, expected 60000")
    return secs

def main(batch_size=256, repeats=3):
    root = get_fashion_mnist()
    fast, _ = load_data_fashion_mnist(batch_size, root=root)
    tv = datasets.FashionMNIST(root, train=True, transform=transforms.ToTensor())
    loaders = {f'torchvision_w{w}': DataLoader(tv, batch_size, shuffle=True, num_workers=w) for w in (0, 2)}
    one_pass(fast)  # warm up
    times = {'fast': [], **{k: [] for k in loaders}}
    for _ in range(repeats):  # interleaved, so a busy moment hits every contender alike
        times['fast'].append(one_pass(fast))
        for k, dl in loaders.items(): times[k].append(one_pass(dl))
    med = {k: statistics.median(v) for k, v in times.items()}
    best_tv = min(med['torchvision_w0'], med['torchvision_w2'])
    report = {'batch_size': batch_size, 'repeats': repeats, 'threads': torch.get_num_threads(),
              **{f'{k}_s': round(v, 4) for k, v in med.items()},
              'ratio_vs_w0': round(med['torchvision_w0']/med['fast'], 1),
              'ratio_vs_w2': round(med['torchvision_w2']/med['fast'], 1),
              'ratio_vs_best_torchvision': round(best_tv/med['fast'], 1)}
    print(json.dumps(report))
    return report

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--batch-size', type=int, default=256, help='samples per batch (default 256)')
    p.add_argument('--repeats', type=int, default=3, help='timed passes per loader; the median is reported (default 3)')
    a = p.parse_args()
    main(a.batch_size, a.repeats)

"""The data layer, measured in one run; prints one JSON line. `python bench/bench_data.py [--startup-only] ...`

1. Start-up: a fresh process from `python -c` to the first training batch of `load_data_fashion_mnist(256)`, cold
   cache (torchvision decodes the raw files, the cache is written) and warm (the checked cache is loaded, torchvision
   not imported), alternated, in a scratch data root linked to the raw files; and `import torch` alone, the floor.
2. Loaders: one full pass over the training split, mlp_nbdev's loader against torchvision's `FashionMNIST` +
   `ToTensor` + `DataLoader` (num_workers 0 and 2).
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time
import torch
from mlp_nbdev.data import ENV_VAR, RAW_FILES, cache_file, get_fashion_mnist, load_data_fashion_mnist, raw_dir

FIRST_BATCH = ("import time; t = time.perf_counter(); from mlp_nbdev.data import load_data_fashion_mnist; "
               "tr, te = load_data_fashion_mnist(256); next(iter(tr)); print(time.perf_counter() - t)")
IMPORT_TORCH = "import time; t = time.perf_counter(); import torch; print(time.perf_counter() - t)"

def seconds(code, env):
    "The number a fresh `python -c code` prints."
    out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True)
    if out.returncode != 0: raise RuntimeError(f"`python -c` failed:\n{out.stderr[-2000:]}")
    return float(out.stdout.split()[-1])

def startup(root, runs=3):
    "Median seconds from process start to the first batch, cold cache and warm, and of `import torch` alone."
    with tempfile.TemporaryDirectory() as tmp:
        raw = raw_dir(tmp); raw.mkdir(parents=True)
        for name in RAW_FILES: os.symlink(raw_dir(root)/name, raw/name)
        env = {**os.environ, ENV_VAR: tmp}
        times = {'cold': [], 'warm': [], 'import_torch': []}
        for _ in range(runs):  # alternated, so a busy moment hits all three alike
            for train in (True, False): cache_file(train, tmp).unlink(missing_ok=True)
            times['cold'].append(seconds(FIRST_BATCH, env))
            times['warm'].append(seconds(FIRST_BATCH, env))
            times['import_torch'].append(seconds(IMPORT_TORCH, env))
    med = {k: statistics.median(v) for k, v in times.items()}
    return {'startup_runs': runs, **{f'startup_{k}_s': round(v, 3) for k, v in med.items()},
            'startup_cold_over_warm': round(med['cold']/med['warm'], 2),
            'startup_all_s': {k: [round(x, 3) for x in v] for k, v in times.items()}}

def one_pass(it):
    "Seconds to draw every batch of `it` once, touching each so nothing stays lazy."
    t = time.perf_counter(); n = 0
    for X, y in it: n += len(y); X.sum()
    secs = time.perf_counter() - t
    if n != 60000: raise RuntimeError(f"a pass saw {n} samples, expected 60000")
    return secs

def loaders(root, batch_size=256, repeats=3):
    "Median seconds of one pass over the training split: our loader and torchvision's."
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms
    fast, _ = load_data_fashion_mnist(batch_size, root=root)
    tv = datasets.FashionMNIST(root, train=True, transform=transforms.ToTensor())
    dls = {f'torchvision_w{w}': DataLoader(tv, batch_size, shuffle=True, num_workers=w) for w in (0, 2)}
    one_pass(fast)  # warm up
    times = {'fast': [], **{k: [] for k in dls}}
    for _ in range(repeats):  # interleaved, so a busy moment hits every contender alike
        times['fast'].append(one_pass(fast))
        for k, dl in dls.items(): times[k].append(one_pass(dl))
    med = {k: statistics.median(v) for k, v in times.items()}
    return {'batch_size': batch_size, 'repeats': repeats, **{f'{k}_s': round(v, 4) for k, v in med.items()},
            **{f"ratio_vs_{k.removeprefix('torchvision_')}": round(med[k] / med['fast'], 1) for k in dls},
            'ratio_vs_best_torchvision': round(min(med[k] for k in dls) / med['fast'], 1)}

def main(batch_size=256, repeats=3, startup_runs=3, startup_only=False):
    root = get_fashion_mnist()
    report = {'torch': torch.__version__, 'cpu_capability': torch.backends.cpu.get_cpu_capability(),
              'threads': torch.get_num_threads(), **startup(root, startup_runs)}
    if not startup_only: report.update(loaders(root, batch_size, repeats))
    print(json.dumps(report))
    return report

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--batch-size', type=int, default=256, help='samples per batch (default 256)')
    p.add_argument('--repeats', type=int, default=3, help='timed passes per loader; the median is reported (default 3)')
    p.add_argument('--startup-runs', type=int, default=3, help='fresh processes per start-up case (median; default 3)')
    p.add_argument('--startup-only', action='store_true', help='measure the start-up only, not the loaders')
    a = p.parse_args()
    main(a.batch_size, a.repeats, a.startup_runs, a.startup_only)

"""mlp_nbdev's benchmark suite: one run, one JSON report (stdout, and `--out`), then a small table.

    python bench/run.py                  # everything (`make bench`): a few minutes on a 2-core CPU
    python bench/run.py --device cpu --quick   # the GPU-style path on the CPU, on a slice of the data: seconds

1. `seed_vs_d2l`: the seed recipe (784-256-10, SGD 0.1, batch 256, 10 epochs), the project's `run_recipe('seed')`
   (`load_data_fashion_mnist` + `train_ch3`) against d2l 0.17's pipeline (`bench/d2l_ref.py`: torchvision, `ToTensor`,
   `DataLoader(num_workers=4)`, a host read per batch), same seed, same epochs, and by default the same batches
   (the reference's sampler draws the project's permutations; `--d2l-shuffle` for d2l's own), so the two
   accuracies differ only by float rounding and the biases' start (d2l keeps PyTorch's, the project zeros them).
   Wall seconds of each, from reading the files to the last test evaluation, their ratio, and both final test
   accuracies; the project twice: in float32, like for like, and with `train_ch3(..., amp='bf16')` (bfloat16
   autocast). Targets: ratio >= 12, accuracies within 0.5 points.
2. `efficiency`: that same project run's FLOPs (see `bench/roofline.py`) against the time its matrix products alone
   take, `torch.mm` at the layer shapes timed in this process after every epoch (in bfloat16 for the autocast run).
   Target: >= 75% on the CPU.
3. `fast`: the GPU-style trainer (`bench/fast.py`: data resident on the device as uint8, no host sync per step,
   CUDA graphs or `torch.compile` where they win, setup time reported apart) for the seed and best recipes and
   large-batch variants, on CUDA when there is a GPU (targets on one H100: seed recipe < 0.5 s, best < 1 s for 10
   epochs), else on the CPU (eager, and `torch.compile` when a C++ compiler is on PATH).
0. `data` (not with `--quick`): `bench/bench_data.py`, the loader alone against torchvision's.
"""
from __future__ import annotations
import argparse, json, os, platform, shutil, sys, time
from pathlib import Path
import torch

sys.path.insert(0, str(Path(__file__).parent))
import roofline
from fast import FastMLP, device_data

SIZES = (784, 256, 10)

def machine(device)->dict:
    "What the numbers were measured on."
    cpu = platform.processor() or platform.machine()
    try: cpu = next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
    except (OSError, StopIteration): pass
    m = dict(cpu=cpu, cores=os.cpu_count(), threads=torch.get_num_threads(), torch=torch.__version__,
             python=platform.python_version(), device=str(device))
    if device.type == 'cuda': m['gpu'] = torch.cuda.get_device_name(device)
    try: m['load_avg'] = round(os.getloadavg()[0], 2)
    except OSError: pass
    return m

def warm_up():
    "A few steps of a small net, so neither contender pays for the first calls into torch's kernels."
    from torch import nn
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    X, y = torch.rand(256, 1, 28, 28), torch.randint(0, 10, (256,))
    for _ in range(5):
        opt.zero_grad(); nn.functional.cross_entropy(net(X), y).backward(); opt.step()

def project_seed(num_epochs, seed, root, device='cpu', min_s=0.01, bf16=False)->dict:
    "The project's seed-recipe run, with a `torch.mm` probe after every epoch (its time is not counted)."
    from mlp_nbdev.concise import run_recipe
    device = torch.device(device)
    probes, probe_s = [], [0.]
    def probe(epoch, history, net):
        t = time.perf_counter()
        probes.append(roofline.probe(256, 256, device, SIZES, torch.bfloat16 if bf16 else torch.float32, min_s=min_s))
        probe_s[0] += time.perf_counter() - t
    # bf16: train_ch3's `amp='bf16'`, the matrix products in bfloat16, the weights, steps and loss in float32
    t = time.perf_counter()
    _, h = run_recipe('seed', num_epochs=num_epochs, seed=seed, root=root, device=None if device.type == 'cpu' else device,
                      draw=False, verbose=False, on_epoch_end=probe, amp='bf16' if bf16 else None)
    wall = time.perf_counter() - t - probe_s[0]
    return dict(wall_s=wall, history=h.to_dicts(), test_acc=h.test_acc[-1], probes=probes, epoch_s=h.seconds)

def seed_vs_d2l(num_epochs, seed, root, reference=True, same_order=True)->tuple[dict, dict]:
    "Sections 1 and 2: the project in float32 (like for like) and under bf16 autocast, then the d2l reference."
    proj, p16 = project_seed(num_epochs, seed, root), project_seed(num_epochs, seed, root, bf16=True)
    out = dict(epochs=num_epochs, seed=seed, project_s=round(proj['wall_s'], 3), project_test_acc=round(proj['test_acc'], 4),
               project_train_ch3_s=round(sum(proj['epoch_s']), 3), project_test_acc_per_epoch=[round(r['test_acc'], 4) for r in proj['history']],
               project_bf16_s=round(p16['wall_s'], 3), project_bf16_test_acc=round(p16['test_acc'], 4))
    if reference:
        import d2l_ref, warnings
        with warnings.catch_warnings():  # torch's notes on d2l's choices: more workers than cores, float() of a loss
            warnings.filterwarnings('ignore', message='This DataLoader will create')
            warnings.filterwarnings('ignore', message='Converting a tensor with requires_grad=True')  # d2l's float(l.sum())
            recs, ref_s = d2l_ref.seed_recipe(root, num_epochs, seed, same_order=same_order)
        out.update(reference_s=round(ref_s, 3), reference_test_acc=round(recs[-1]['test_acc'], 4),
                   reference_test_acc_per_epoch=[round(r['test_acc'], 4) for r in recs],
                   reference_same_batch_order=same_order, reference_epoch_s=[round(r['seconds'], 2) for r in recs],
                   ratio=round(ref_s / proj['wall_s'], 2), ratio_bf16=round(ref_s / p16['wall_s'], 2),
                   acc_diff_points=round(100 * (proj['test_acc'] - recs[-1]['test_acc']), 2),
                   acc_diff_points_bf16=round(100 * (p16['test_acc'] - recs[-1]['test_acc']), 2))
        out.update(target_ratio=12, ratio_ok=out['ratio'] >= 12, ratio_bf16_ok=out['ratio_bf16'] >= 12,
                   acc_ok=abs(out['acc_diff_points']) <= 0.5, acc_bf16_ok=abs(out['acc_diff_points_bf16']) <= 0.5)
    eff = roofline.efficiency(SIZES, 256, 256, proj['probes'], proj['epoch_s'])
    eff.update(target=0.75, ok=eff['efficiency'] >= 0.75, epoch_s=[round(s, 3) for s in proj['epoch_s']])
    e16 = roofline.efficiency(SIZES, 256, 256, p16['probes'], p16['epoch_s'])
    eff['bf16_autocast'] = {k: e16[k] for k in ('run_s', 'limit_s', 'run_gflops', 'mm_gflops', 'efficiency', 'gemm_us')}
    return out, eff

def has_cxx()->bool:
    "Whether a C++ compiler is on PATH: `torch.compile` needs one to build its CPU kernels."
    return any(shutil.which(c) for c in ('g++', 'c++', 'clang++'))

def fast_rows(device, num_epochs, seed, root, quick=False, modes=None, dtypes=None, min_s=0.01)->dict:
    "Section 3: the GPU-style trainer, every recipe x mode x dtype asked for; the fastest kept per recipe."
    device = torch.device(device)
    cuda = device.type == 'cuda'
    data = device_data(root, device, limit=12000 if quick else None)
    n_train, n_test = len(data[1]), len(data[3])
    modes = modes or (['eager', 'graph', 'compile'] if cuda else ['eager', 'compile'] if has_cxx() else ['eager'])
    dtypes = dtypes or ['float32', 'bfloat16']
    recipes = {'seed': dict(recipe='seed'), 'seed, batch 1024': dict(recipe='seed', batch_size=1024, lr=0.4),
               'best': dict(recipe='best'), 'best, batch 512': dict(recipe='best', batch_size=512, lr=0.2)}
    if quick: recipes = {k: recipes[k] for k in ('seed', 'best')}
    rows, probes = [], {}
    for name, kw in recipes.items():
        for mode in modes:
            for dt in dtypes:
                row = dict(recipe=name, mode=mode, dtype=dt, epochs=num_epochs)
                try:
                    f = FastMLP(data, num_epochs=num_epochs, seed=seed, dtype=getattr(torch, dt), mode=mode, **kw)
                    res = f.fit()
                except Exception as e:  # a mode this machine cannot run (no compiler, no CUDA graphs): say so, go on
                    rows.append({**row, 'error': f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"}); continue
                B = f.B
                key = (B, dt)
                if key not in probes: probes[key] = roofline.probe(B, 10000, device, SIZES, getattr(torch, dt), min_s)
                eff = roofline.efficiency(SIZES, B, 10000, [probes[key]], [r['seconds'] for r in res['records']], n_train, n_test)
                rows.append({**row, 'batch_size': B, 'seconds': round(res['seconds'], 4), 'setup_s': round(res['setup_s'], 3),
                             'test_acc': round(res['test_acc'], 4), 'efficiency': eff['efficiency'],
                             'run_gflops': eff['run_gflops'], 'mm_gflops': eff['mm_gflops']})
    kept = {}
    for r in rows:
        if 'seconds' in r and (r['recipe'] not in kept or r['seconds'] < kept[r['recipe']]['seconds']): kept[r['recipe']] = r
    out = dict(device=str(device), n_train=n_train, n_test=n_test, rows=rows, kept=kept)
    if cuda:
        out['targets'] = dict(seed_under_0_5s=kept.get('seed', {}).get('seconds', 1e9) < 0.5,
                              best_under_1s=kept.get('best', {}).get('seconds', 1e9) < 1.0)
        t = time.perf_counter()
        proj = project_seed(num_epochs, seed, root, device, min_s)
        out['project_train_ch3'] = dict(wall_s=round(proj['wall_s'], 3), train_ch3_s=round(sum(proj['epoch_s']), 3),
                                        test_acc=round(proj['test_acc'], 4))
    return out

def table(report)->str:
    "The report as a markdown table (what README's table shows)."
    m = report['machine']
    lines = [f"Measured on {m['cpu']} ({m['cores']} cores, {m['threads']} torch threads)"
             + (f", {m['gpu']}" if 'gpu' in m else '') + f", torch {m['torch']}.", '',
             f"| What | Seconds, {report['epochs']} epochs | Test accuracy | Notes |", '|---|---|---|---|']
    s = report.get('seed_vs_d2l')
    if s:
        if 'reference_s' in s:
            lines.append(f"| d2l 0.17 pipeline, seed recipe (CPU) | {s['reference_s']:.1f} | {s['reference_test_acc']:.4f} | torchvision + DataLoader(4 workers) |")
        note = f"{s['ratio']:.1f}x faster than d2l" if 'ratio' in s else ''
        lines.append(f"| mlp_nbdev `train_ch3`, seed recipe (CPU) | {s['project_s']:.2f} | {s['project_test_acc']:.4f} | {note} |")
        note = f"{s['ratio_bf16']:.1f}x faster than d2l" if 'ratio_bf16' in s else ''
        lines.append(f"| the same with `amp='bf16'` (bfloat16 autocast) | {s['project_bf16_s']:.2f} | {s['project_bf16_test_acc']:.4f} | {note} |")
    e = report.get('efficiency')
    if e:
        lines.append(f"| its matrix products alone (`torch.mm` at the layer shapes) | {e['limit_s']:.2f} | | "
                     f"training loop at {100*e['efficiency']:.0f}% of that ({e['run_gflops']:.0f} of {e['mm_gflops']:.0f} GFLOP/s) |")
        b = e['bf16_autocast']
        lines.append(f"| ... in bfloat16 | {b['limit_s']:.2f} | | the autocast run at {100*b['efficiency']:.0f}% of that "
                     f"({b['run_gflops']:.0f} of {b['mm_gflops']:.0f} GFLOP/s) |")
    f = report.get('fast')
    if f:
        for name, r in f['kept'].items():
            extra = f", setup (compile or capture) {r['setup_s']:.1f} s" if r['mode'] != 'eager' else ''
            lines.append(f"| `bench/fast.py` trainer, {name} ({f['device']}, {r['mode']}, {r['dtype']}) | {r['seconds']:.2f} | "
                         f"{r['test_acc']:.4f} | {100*r['efficiency']:.0f}% of its matrix products{extra} |")
    return '\n'.join(lines)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--device', default=None, help="device of section 3: 'cpu' or 'cuda' (default: cuda if there is one, else cpu)")
    p.add_argument('--quick', action='store_true', help='1 epoch, no d2l reference, no data benchmark, section 3 on 12,000 images')
    p.add_argument('--epochs', type=int, default=None, help='epochs of every run (default 10; 1 with --quick)')
    p.add_argument('--seed', type=int, default=0, help='seed of the weights and the shuffling (default 0)')
    p.add_argument('--threads', type=int, default=None, help="torch's intra-op threads (default: torch's default)")
    p.add_argument('--no-reference', action='store_true', help='skip the d2l reference run (about 2 minutes on 2 cores)')
    p.add_argument('--d2l-shuffle', action='store_true',
                   help="let the reference shuffle as d2l does; by default it draws the project's order of batches, so both runs see the same batches")
    p.add_argument('--sections', default=None, help="comma-separated subset of 'data,seed,fast' (default: all)")
    p.add_argument('--modes', default=None, help="section 3 modes, e.g. 'eager,compile' (default: all on CUDA; on CPU eager, and compile when a C++ compiler is found)")
    p.add_argument('--dtypes', default=None, help="section 3 dtypes, e.g. 'float32,bfloat16'")
    p.add_argument('--root', default=None, help='data root (default: see mlp_nbdev.data.data_root)')
    p.add_argument('--out', default=None, help='also write the JSON report to this file')
    a = p.parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    if a.device is not None:
        from mlp_nbdev.train import resolve_device
        try: device = resolve_device(a.device)
        except ValueError as e: p.error(str(e))
    else: device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    epochs = a.epochs or (1 if a.quick else 10)
    if epochs < 1: p.error(f"--epochs must be at least 1, got {epochs}")
    sections = set((a.sections or 'data,seed,fast').split(','))
    if a.quick: sections.discard('data')
    from mlp_nbdev.data import get_fashion_mnist
    root = get_fashion_mnist(a.root)
    report = dict(machine=machine(device), epochs=epochs)
    warm_up()
    if 'data' in sections:
        import bench_data
        report['data'] = bench_data.main()
    if 'seed' in sections:
        report['seed_vs_d2l'], report['efficiency'] = seed_vs_d2l(epochs, a.seed, root, reference=not (a.quick or a.no_reference),
                                                                    same_order=not a.d2l_shuffle)
    if 'fast' in sections:
        report['fast'] = fast_rows(device, epochs, a.seed, root, a.quick, a.modes and a.modes.split(','),
                                   a.dtypes and a.dtypes.split(','), min_s=0.002 if a.quick else 0.01)
    text = json.dumps(report, indent=1)
    print(text)
    if a.out: Path(a.out).write_text(text + '\n')
    print(table(report))
    return report

if __name__ == '__main__':
    main()

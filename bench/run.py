"""mlp_nbdev's benchmark suite: one run, one table (stdout); progress on stderr, the JSON report with `--out`.

    python bench/run.py           # everything (`make bench`): a few minutes on a 2-core CPU
    python bench/run.py --quick   # 1 epoch, no d2l, fast trainer on a slice of the data: the test's seconds

An untimed warm-up comes first (not with `--quick`): the first process of a run would otherwise pay alone for reading
torch's libraries from disk. Everything is measured in this one run and every ratio is taken between runs of this one run (the machine may be
shared: absolute seconds move, ratios of neighbouring runs move less; the load average is reported before and after).
The seed recipe (784-256-10 ReLU MLP, SGD lr 0.1, momentum 0, batch 256, 10 epochs), on the CPU:

1. `d2l`: d2l 0.17.6's own `train_ch3` in a fresh process (`bench/d2l_ref.py`: the real package when installed, else a
   written-out copy, and the report says which): the `train_ch3` call (training, and a test pass per epoch), and the
   whole process, from `python` starting to its exit.
2. `cli`: `mlp-nbdev train --device cpu` in a fresh process, likewise: the sum of its epochs' seconds in `metrics.json`
   (training and a test pass per epoch, as d2l's `train_ch3` call; not the optimizer's construction before it, where
   `torch.optim` imports `torch._dynamo`, about 1 s that d2l also pays before its call) and the whole process (imports, data, training, checkpoints, the two PNGs); in float32,
   with `--amp bf16` (bfloat16 autocast forced) and, where the CLI has it, `--amp auto` (bfloat16 only where a probe
   finds it faster).
3. `sklearn`: scikit-learn's `MLPClassifier` on the same recipe (`solver='sgd'`, `learning_rate_init=0.1`,
   `momentum=0`, `alpha=0`, `batch_size=256`, `max_iter=10`, no early stopping), float32 inputs in [0, 1]; `fit`'s
   seconds (it has no per-epoch test pass). Its own initialization (Glorot), so its accuracy differs a little.
4. `efficiency`: the project's loop (`run_recipe('seed')`, in this process) against its matrix-product floor: the
   time `torch.mm` at the layer shapes alone takes (`bench/roofline.py`), measured after every epoch; then the same
   under bfloat16 autocast forced (`amp=torch.bfloat16`), against bfloat16 `torch.mm` (not with `--quick`).
5. `data` (not with `--quick`): start-up to the first batch, cold and warm cache (`bench/bench_data.py`).
6. `fast`: `bench/fast.py` (data on the device, torch's optimizers, no host sync per step; `torch.compile` where a C++
   compiler is found, CUDA graphs on a GPU), seed and best recipes, eager and compiled, float32 (`--dtypes
   float32,bfloat16` adds bfloat16; `--quick`: eager, both dtypes, 12,000 images).
"""
from __future__ import annotations
import argparse, contextlib, json, os, platform, shutil, subprocess, sys, tempfile, time, warnings
from pathlib import Path
import torch

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import roofline

SIZES = (784, 256, 10)
THREADS = None  # `--threads`: torch's threads here and, by OMP_NUM_THREADS, in the d2l and mlp-nbdev processes
TARGETS = dict(train_vs_d2l=14., whole_vs_d2l=10., train_vs_sklearn=1.5, bf16_slowdown=1.2, efficiency=0.65)

def log(*a): print(*a, file=sys.stderr, flush=True)

def load_avg():
    try: return round(os.getloadavg()[0], 2)
    except OSError: return None

def machine(device)->dict:
    "What the numbers were measured on."
    cpu = platform.processor() or platform.machine()
    try: cpu = next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
    except (OSError, StopIteration): pass
    m = dict(cpu=cpu, cores=os.cpu_count(), threads=torch.get_num_threads(), torch=torch.__version__,
             cpu_capability=torch.backends.cpu.get_cpu_capability(), python=platform.python_version(),
             device=str(device), load_avg_start=load_avg())
    if device.type == 'cuda': m['gpu'] = torch.cuda.get_device_name(device)
    return m

def has_cxx()->bool:
    "Whether a C++ compiler is on PATH: `torch.compile` needs one to build its CPU kernels."
    return any(shutil.which(c) for c in ('g++', 'c++', 'clang++'))

def timed_process(cmd, **kw)->tuple[subprocess.CompletedProcess, float]:
    "Run `cmd`; the completed process and its wall seconds, start to exit."
    t = time.perf_counter()
    if THREADS: kw['env'] = {**kw.get('env', os.environ), 'OMP_NUM_THREADS': str(THREADS)}  # --threads reaches them too
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    return r, time.perf_counter() - t

def _failure(r)->str:
    lines = [l for l in (r.stderr or r.stdout).strip().splitlines() if l.strip()]
    return f"exit {r.returncode}: {lines[-1][:200] if lines else 'no output'}"

def d2l_run(root, num_epochs, seed, copy=False)->dict:
    "Section 1: d2l 0.17.6's `train_ch3` in a fresh process."
    cmd = [sys.executable, str(BENCH/'d2l_ref.py'), '--root', str(root), '--epochs', str(num_epochs), '--seed', str(seed)]
    r, wall = timed_process(cmd + (['--copy'] if copy else []), env={**os.environ, 'MPLBACKEND': 'Agg'})
    line = next((l for l in r.stdout.splitlines() if l.startswith('D2L_REPORT ')), None)
    if r.returncode or line is None: return dict(error=_failure(r))
    rep = json.loads(line[len('D2L_REPORT '):])
    return {**rep, 'wall_s': round(wall, 3), 'final_test_acc': rep['test_acc'][-1]}

def cli_amp_choices()->list:
    "The `--amp` values `mlp-nbdev train` accepts (none if the CLI does not import: its run then reports the error)."
    try:
        from mlp_nbdev.cli import make_parser
        sub = next(a for a in make_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices['train']
        return list(next(a for a in sub._actions if '--amp' in a.option_strings).choices or [])
    except Exception: return []

def cli_run(root, num_epochs, seed, amp=None)->dict:
    "Section 2: `mlp-nbdev train --device cpu` in a fresh process, its `metrics.json` read back."
    exe = shutil.which('mlp-nbdev', path=str(Path(sys.executable).parent)) or shutil.which('mlp-nbdev')
    if exe is None: return dict(error='the `mlp-nbdev` command is not installed (pip install -e .)')
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [exe, 'train', '--device', 'cpu', '--epochs', str(num_epochs), '--seed', str(seed), '--data', str(root),
               '--out', str(Path(tmp)/'run')] + (['--amp', amp] if amp else [])
        r, wall = timed_process(cmd, env={**os.environ, 'MPLBACKEND': 'Agg'})
        if r.returncode: return dict(error=_failure(r), cmd=' '.join(cmd[1:]))
        m = json.loads((Path(tmp)/'run'/'metrics.json').read_text())
    warning = next((l.split('Warning: ', 1)[-1] for l in r.stderr.splitlines() if 'AmpWarning' in l), None)
    # training = the epochs' seconds (each: the batches and a test pass), what d2l's `train_ch3` call times; `call_s` adds
    # building the optimizer (torch.optim imports torch._dynamo on first use: about 1 s, which d2l pays before its call)
    return dict(cmd='mlp-nbdev ' + ' '.join(cmd[1:-2]), train_s=round(sum(r['seconds'] for r in m['history']), 3),
                call_s=round(m['seconds'], 3), wall_s=round(wall, 3),
                test_acc=round(m['final']['test_acc'], 4), amp=amp, first_line=r.stdout.splitlines()[0] if r.stdout else '',
                amp_warning=warning)

def warm_up(root)->float:
    """Untimed: a process importing what the timed ones import, then a one-epoch `mlp-nbdev train`, so that the first
    timed process does not pay alone for reading torch's libraries from disk (29 Nov: 12.6 s whole process for the first
    `mlp-nbdev train` of a run, 8-9 s for the next ones). Returns its seconds."""
    t = time.perf_counter()
    code = "import torch, torchvision, matplotlib.pyplot\ntry: import sklearn.neural_network, d2l.torch\nexcept ImportError: pass"
    timed_process([sys.executable, '-c', code], env={**os.environ, 'MPLBACKEND': 'Agg'})
    cli_run(root, 1, 0)
    return round(time.perf_counter() - t, 2)

def sklearn_run(root, num_epochs, seed)->dict:
    "Section 3: scikit-learn's `MLPClassifier` on the seed recipe, `fit`'s seconds."
    try:
        from sklearn.neural_network import MLPClassifier
        from sklearn.exceptions import ConvergenceWarning
        import sklearn
    except ImportError: return dict(error='scikit-learn is not installed (pip install scikit-learn)')
    from mlp_nbdev.data import fashion_mnist_tensors
    (Xtr, ytr), (Xte, yte) = fashion_mnist_tensors(True, root), fashion_mnist_tensors(False, root)
    prep = lambda X: (X.reshape(len(X), -1).float() / 255).numpy()
    Xtr, Xte, ytr, yte = prep(Xtr), prep(Xte), ytr.numpy(), yte.numpy()
    clf = MLPClassifier(hidden_layer_sizes=(256,), activation='relu', solver='sgd', learning_rate='constant',
                        learning_rate_init=0.1, momentum=0., nesterovs_momentum=False, alpha=0., batch_size=256,
                        max_iter=num_epochs, shuffle=True, random_state=seed, early_stopping=False, tol=0.,
                        n_iter_no_change=num_epochs + 1)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', ConvergenceWarning)  # max_iter reached: that is the recipe's 10 epochs
        t = time.perf_counter(); clf.fit(Xtr, ytr); train_s = time.perf_counter() - t
    return dict(train_s=round(train_s, 3), test_acc=round(float(clf.score(Xte, yte)), 4), epochs=clf.n_iter_,
                sklearn=sklearn.__version__)

def efficiency_run(num_epochs, seed, root, min_s=0.01, bf16=False)->dict:
    """Section 4: the project's seed-recipe loop in this process, with a `torch.mm` probe after every epoch (not counted);
    `bf16`: under bfloat16 autocast, forced (`amp=torch.bfloat16`, whatever the library's probe says), against bf16 `torch.mm`."""
    from mlp_nbdev.recipes import get_recipe, run_recipe
    from mlp_nbdev.data import load_data_fashion_mnist
    probes, dtype = [], torch.bfloat16 if bf16 else torch.float32
    def probe(epoch, history, net): probes.append(roofline.probe(256, 256, torch.device('cpu'), SIZES, dtype, min_s=min_s))
    data = load_data_fashion_mnist(get_recipe('seed')['batch_size'], root=root, seed=seed)  # run_recipe's, reused below
    _, h = run_recipe('seed', num_epochs=num_epochs, seed=seed, data=data, draw=False, verbose=False, on_epoch_end=probe,
                      amp=torch.bfloat16 if bf16 else None)
    eff = roofline.efficiency(SIZES, 256, 256, probes, h.seconds)
    out = {**eff, 'test_acc': round(h.test_acc[-1], 4), 'epoch_s': [round(s, 3) for s in h.seconds], 'dtype': str(dtype)}
    if not bf16:  # where the step's time goes, in float32 (see `bench_train.phase_split`)
        from bench_train import phase_split
        out['phases_us'] = phase_split(data[0], epochs=2 if min_s < 0.01 else 3)
    return out

def bf16_probe()->dict:
    "What the library's own probe says here: native bfloat16, and a bf16 step's time over a float32 one's."
    try: from mlp_nbdev.inference import bf16_slowdown, native_bf16
    except ImportError: return {}
    return dict(native_bf16=native_bf16('cpu'), bf16_step_over_float32=round(bf16_slowdown('cpu'), 2))

def fast_rows(device, num_epochs, seed, root, quick=False, modes=None, dtypes=None, min_s=0.01)->dict:
    "Section 5: the device-resident trainer, every recipe x mode x dtype asked for; the fastest kept per recipe."
    from fast import FastMLP, device_data
    device = torch.device(device)
    data = device_data(root, device, limit=12000 if quick else None)
    n_train, n_test = len(data[1]), len(data[3])
    modes = modes or (['eager'] if quick or not (device.type == 'cuda' or has_cxx()) else ['eager', 'compile'])
    dtypes = dtypes or (['float32', 'bfloat16'] if quick else ['float32'])  # bfloat16 is measured on the project's loop above
    rows, probes = [], {}
    for name in ('seed', 'best'):
        for mode in modes:
            for dt in dtypes:
                row = dict(recipe=name, mode=mode, dtype=dt, epochs=num_epochs)
                log(f"fast: {name}, {mode}, {dt}")
                try:
                    f = FastMLP(data, name, num_epochs=num_epochs, seed=seed, dtype=getattr(torch, dt), mode=mode)
                    res = f.fit()
                except Exception as e:  # a mode this machine cannot run (no compiler): say so, go on
                    rows.append({**row, 'error': f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"}); continue
                key = (f.B, dt)
                if key not in probes: probes[key] = roofline.probe(f.B, 10000, device, SIZES, getattr(torch, dt), min_s)
                eff = roofline.efficiency(SIZES, f.B, 10000, [probes[key]], [r['seconds'] for r in res['records']], n_train, n_test)
                rows.append({**row, 'batch_size': f.B, 'seconds': round(res['seconds'], 4), 'setup_s': round(res['setup_s'], 3),
                             'test_acc': round(res['test_acc'], 4), 'efficiency': eff['efficiency']})
    kept = {}
    for r in rows:
        if 'seconds' in r and (r['recipe'] not in kept or r['seconds'] < kept[r['recipe']]['seconds']): kept[r['recipe']] = r
    return dict(device=str(device), n_train=n_train, n_test=n_test, rows=rows, kept=kept)

def data_run()->dict:
    "Section 6: `bench/bench_data.py`'s start-up measurement (its own JSON line goes to stderr)."
    import bench_data
    with contextlib.redirect_stdout(sys.stderr):
        try: return bench_data.main(startup_only=True)
        except TypeError: return bench_data.main()

def _ok(*sections)->bool:
    "Every section ran (is not empty) and did not fail."
    return all('error' not in x and x for x in sections)

def ratios(rep)->dict:
    "Every ratio of the table, from the numbers of this one run."
    out, d, c, s = {}, rep.get('d2l', {}), rep.get('cli', {}), rep.get('sklearn', {})
    f32 = c.get('float32', {})
    if _ok(d, f32):
        out['train_vs_d2l'] = round(d['train_s'] / f32['train_s'], 2)
        out['whole_vs_d2l'] = round(d['wall_s'] / f32['wall_s'], 2)
    if _ok(s, f32): out['train_vs_sklearn'] = round(s['train_s'] / f32['train_s'], 2)
    for amp in ('bf16', 'auto'):
        if _ok(f32, c.get(amp, {})): out[f'{amp}_slowdown'] = round(c[amp]['train_s'] / f32['train_s'], 2)
    e, b = rep.get('efficiency', {}), rep.get('efficiency_bf16', {})
    if e: out['efficiency'] = e['efficiency']
    if e and b: out['bf16_forced_slowdown'] = round(b['run_s'] / e['run_s'], 2)
    out.update(ceilings(rep))
    return out

def ceilings(rep)->dict:
    """What this machine allows: each ratio if `mlp-nbdev train` trained in exactly its float32 matrix-product floor (the
    `efficiency` section's `limit_s`: training and a test pass per epoch, as the CLI's `seconds`), start-up as measured; and
    the share of that floor each target needs (`need_*`: a target above 100% cannot be met in float32 here)."""
    d, c, s, e = rep.get('d2l', {}), rep.get('cli', {}).get('float32', {}), rep.get('sklearn', {}), rep.get('efficiency', {})
    if not _ok(e): return {}
    floor, out = e['limit_s'], {}
    if _ok(d):
        out['ceiling_train_vs_d2l'] = round(d['train_s'] / floor, 2)
        out['need_train_vs_d2l'] = round(TARGETS['train_vs_d2l'] * floor / d['train_s'], 3)
    if _ok(d, c):
        startup = c['wall_s'] - c['train_s']  # everything the CLI does besides training, as measured
        out['ceiling_whole_vs_d2l'] = round(d['wall_s'] / (floor + startup), 2)
        budget = d['wall_s'] / TARGETS['whole_vs_d2l'] - startup  # training seconds the whole-process target leaves
        out['need_whole_vs_d2l'] = round(floor / budget, 3) if budget > 0 else float('inf')
    if _ok(s):
        out['ceiling_train_vs_sklearn'] = round(s['train_s'] / floor, 2)
        out['need_train_vs_sklearn'] = round(TARGETS['train_vs_sklearn'] * floor / s['train_s'], 3)
    return out

def _faster(ratio, than)->str:
    return f"{ratio:.1f}x faster than {than}" if ratio >= 1 else f"{1 / ratio:.1f}x slower than {than}"

def _met(value, target, higher=True, fmt='{:g}')->str:
    return f"target {'>=' if higher else '<='} {fmt.format(target)}: {'met' if (value >= target if higher else value <= target) else 'NOT met'}"

def table(rep)->str:
    "The report as one markdown table."
    m, E, r = rep['machine'], rep['epochs'], rep['ratios']
    lines = [f"Measured in one run on {m['cpu']} ({m['cores']} cores, {m['threads']} torch threads, torch CPU capability "
             f"{m['cpu_capability']}){', ' + m['gpu'] if 'gpu' in m else ''}, torch {m['torch']}, Python {m['python']}; "
             f"load average {m['load_avg_start']} at the start, {m.get('load_avg_end')} at the end"
             + (f"; native bfloat16: {'yes' if m['native_bf16'] else 'no'}, the library's probe: a bf16 step takes "
                f"{m['bf16_step_over_float32']:.2f}x a float32 one" if 'native_bf16' in m else '') + '.', '',
             f"| Seed recipe (784-256-10, SGD lr 0.1, batch 256), {E} epoch{'s' * (E != 1)}, CPU | Training s | Whole process s | "
             f"Test accuracy | Ratio (this run) | Target |", '|---|---|---|---|---|---|']
    err = lambda x: f"| failed: {x['error']} | | | | |"
    d = rep.get('d2l')
    if d: lines.append(f"| d2l `train_ch3` ({d.get('source', 'd2l 0.17.6')}) " + (err(d) if 'error' in d else
                       f"| {d['train_s']:.1f} | {d['wall_s']:.1f} | {d['final_test_acc']:.4f} | 1 | {d.get('failed_check') or ''} |"))
    for amp, x in rep.get('cli', {}).items():
        name = '`mlp-nbdev train`' + ('' if amp == 'float32' else f' `--amp {amp}`')
        if 'error' in x: lines.append(f"| {name} {err(x)}"); continue
        if amp == 'float32':
            ratio = '; '.join(f"{k} {_faster(r[q], 'd2l')}" for k, q in (('training', 'train_vs_d2l'), ('whole', 'whole_vs_d2l')) if q in r)
            target = '; '.join(_met(r[q], TARGETS[q]) for q in ('train_vs_d2l', 'whole_vs_d2l') if q in r)
        else:
            q = f'{amp}_slowdown'
            ratio = f"{r[q]:.2f}x the float32 training time" if q in r else ''
            if x.get('amp_warning'): ratio += f" (it said: {x['amp_warning'].split('; ')[0][:160]})"
            if d and 'error' not in d:  # against d2l too: what this dtype gives a user of this machine
                ratio += f"; training {_faster(d['train_s'] / x['train_s'], 'd2l')}, whole {_faster(d['wall_s'] / x['wall_s'], 'd2l')}"
            target = _met(r[q], TARGETS['bf16_slowdown'], higher=False) if q in r else ''
        lines.append(f"| {name} | {x['train_s']:.2f} | {x['wall_s']:.1f} | {x['test_acc']:.4f} | {ratio} | {target} |")
    s = rep.get('sklearn')
    if s:
        name = f"scikit-learn {s.get('sklearn', '')} `MLPClassifier` (sgd, lr 0.1, momentum 0, alpha 0, batch 256)"
        if 'error' in s: lines.append(f"| {name} {err(s)}")
        else:
            q = 'train_vs_sklearn'
            lines.append(f"| {name} | {s['train_s']:.2f} | | {s['test_acc']:.4f} | "
                         + (f"`mlp-nbdev train` trains {_faster(r[q], 'this')} | {_met(r[q], TARGETS[q])} |" if q in r else '| |'))
    e, b = rep.get('efficiency'), rep.get('efficiency_bf16')
    if e:
        lines.append(f"| `run_recipe('seed')` in this process, float32 | {e['run_s']:.2f} | | {e['test_acc']:.4f} | "
                     f"{100 * e['efficiency']:.0f}% of its matrix-product floor ({e['limit_s']:.2f} s of `torch.mm` at the layer shapes) | "
                     f"{_met(e['efficiency'], TARGETS['efficiency'], fmt='{:.0%}')} |")
    if b:
        q = 'bf16_forced_slowdown'
        lines.append(f"| the same, bfloat16 autocast forced (`amp=torch.bfloat16`) | {b['run_s']:.2f} | | {b['test_acc']:.4f} | "
                     + (f"{r[q]:.2f}x the float32 time; " if q in r else '')
                     + f"{100 * b['efficiency']:.0f}% of its bf16 floor ({b['limit_s']:.2f} s) | |")
    ph = (e or {}).get('phases_us')
    if ph:  # after the bf16 row, whose "the same" is the float32 row
        lines.append(f"| where a step goes (bare loop, µs per step): batch {ph['data']:.0f}, forward {ph['forward']:.0f} "
                     f"(its products alone, hot in cache: {ph['gemm_forward']:.0f}), backward {ph['backward']:.0f} "
                     f"({ph['gemm_backward']:.0f}), optimizer step {ph['step']:.0f} | | | | | |")
    f = rep.get('fast')
    if f:
        for name, x in f['kept'].items():
            setup = f", plus {x['setup_s']:.1f} s compiling" if x['mode'] != 'eager' else ''
            lines.append(f"| `bench/fast.py`, {name} recipe ({f['device']}, {x['mode']}, {x['dtype']}, fastest of "
                         f"{sum(y['recipe'] == name for y in f['rows'])}) | {x['seconds']:.2f} | | {x['test_acc']:.4f} | "
                         f"{100 * x['efficiency']:.0f}% of its matrix products{setup} | |")
    q = [(k, f'need_{k}') for k in ('train_vs_d2l', 'whole_vs_d2l', 'train_vs_sklearn') if f'ceiling_{k}' in r]
    if q:
        names = dict(train_vs_d2l='d2l training', whole_vs_d2l='d2l whole process', train_vs_sklearn='scikit-learn')
        need = lambda v: f"{100 * v:.0f}%" if v != float('inf') else 'more than start-up leaves'
        lines.append(f"| ceiling on this machine: `mlp-nbdev train` at 100% of its float32 floor ({e['limit_s']:.2f} s) | | | | "
                     + '; '.join(f"{r[f'ceiling_{k}']:.1f}x {names[k]}" for k, _ in q) + ' | '
                     + '; '.join(f"{TARGETS[k]:g}x needs {need(r[n])} of the floor" for k, n in q) + ' |')
    dd = rep.get('data')
    if dd and 'startup_warm_s' in dd:
        lines.append(f"| start-up to the first batch: warm cache / cold cache / `import torch` alone | | "
                     f"{dd['startup_warm_s']:.2f} / {dd['startup_cold_s']:.2f} / {dd['startup_import_torch_s']:.2f} | | | |")
    return '\n'.join(lines)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--device', default=None, help="device of the fast trainer: 'cpu' or 'cuda' (default: cuda if there is one, else cpu)")
    p.add_argument('--quick', action='store_true', help='1 epoch; no d2l, no data section; float32 CLI run only; fast trainer eager, on 12,000 images')
    p.add_argument('--epochs', type=int, default=None, help='epochs of every run (default 10; 1 with --quick)')
    p.add_argument('--seed', type=int, default=0, help='seed of the weights and the shuffling (default 0)')
    p.add_argument('--threads', type=int, default=None, help="torch's intra-op threads, here and in the d2l and mlp-nbdev processes (default: torch's); 1 is robust on a crowded CPU")
    p.add_argument('--no-reference', action='store_true', help='skip the d2l run (about 1-2 minutes on 2 cores)')
    p.add_argument('--d2l-copy', action='store_true', help="run bench/d2l_ref.py's copy of d2l even if d2l 0.17.6 is installed")
    p.add_argument('--sections', default=None, help="comma-separated subset of 'cli,d2l,sklearn,efficiency,data,fast' (default: all)")
    p.add_argument('--modes', default=None, help="fast trainer modes, e.g. 'eager,compile'")
    p.add_argument('--dtypes', default=None, help="fast trainer dtypes, e.g. 'float32,bfloat16'")
    p.add_argument('--root', default=None, help='data root (default: see mlp_nbdev.data.data_root)')
    p.add_argument('--out', default=None, help='also write the JSON report to this file')
    a = p.parse_args(argv)
    global THREADS
    if a.threads: torch.set_num_threads(a.threads); THREADS = a.threads
    if a.device is not None:
        from mlp_nbdev.inference import resolve_device
        try: device = resolve_device(a.device)
        except ValueError as e: p.error(str(e))
    else: device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    epochs = a.epochs or (1 if a.quick else 10)
    if epochs < 1: p.error(f"--epochs must be at least 1, got {epochs}")
    sections = set((a.sections or 'cli,d2l,sklearn,efficiency,data,fast').split(','))
    unknown = sections - {'d2l', 'cli', 'sklearn', 'efficiency', 'fast', 'data'}
    if unknown: p.error(f"unknown --sections {sorted(unknown)}: choose from cli,d2l,sklearn,efficiency,data,fast")
    if a.quick: sections -= {'d2l', 'data'}
    if a.no_reference: sections.discard('d2l')
    from mlp_nbdev.data import get_fashion_mnist
    root = get_fashion_mnist(a.root)
    rep = dict(machine={**machine(device), **bf16_probe()}, epochs=epochs, seed=a.seed)
    if not a.quick and sections & {'cli', 'd2l'}:
        log("warm-up (untimed): the libraries read from disk once"); rep['warm_up_s'] = warm_up(root)
    if 'cli' in sections:  # float32, bf16 and auto back to back: their ratios see the same load
        amps = ['float32'] + ([] if a.quick else [x for x in ('bf16', 'auto') if x in cli_amp_choices()])
        rep['cli'] = {}
        for amp in amps:
            log(f"cli: mlp-nbdev train, {amp}")
            rep['cli'][amp] = cli_run(root, epochs, a.seed, None if amp == 'float32' else amp)
    if 'd2l' in sections:
        log("d2l: d2l 0.17.6 train_ch3 in a fresh process")
        rep['d2l'] = d2l_run(root, epochs, a.seed, a.d2l_copy)
    if 'sklearn' in sections:
        log("sklearn: MLPClassifier"); rep['sklearn'] = sklearn_run(root, epochs, a.seed)
    if 'efficiency' in sections:  # float32 and forced bf16 back to back
        log("efficiency: train_ch3 against torch.mm, float32"); rep['efficiency'] = efficiency_run(epochs, a.seed, root, 0.002 if a.quick else 0.01)
        if not a.quick:
            log("efficiency: bf16 forced"); rep['efficiency_bf16'] = efficiency_run(epochs, a.seed, root, 0.01, bf16=True)
    if 'data' in sections:
        log("data: start-up to the first batch"); rep['data'] = data_run()
    if 'fast' in sections:
        rep['fast'] = fast_rows(device, epochs, a.seed, root, a.quick, a.modes and a.modes.split(','),
                                a.dtypes and a.dtypes.split(','), min_s=0.002 if a.quick else 0.01)
    rep['machine']['load_avg_end'] = load_avg()
    rep['ratios'] = ratios(rep)
    rep['targets'] = TARGETS
    if a.out: Path(a.out).write_text(json.dumps(rep, indent=1) + '\n')
    print(table(rep))
    return rep

if __name__ == '__main__':
    main()

"""mlp_nbdev's benchmark: one run, one table on stdout; progress on stderr, the JSON report with `--out`.

    python bench/run.py           # everything (`make bench`): a few minutes on a 2-core CPU
    python bench/run.py --quick   # 1 epoch; no warm-up, d2l, bfloat16 or data sections: the test's seconds

The seed recipe (784-256-10 ReLU MLP, SGD lr 0.1, batch 256, 10 epochs) on the CPU: `mlp-nbdev train` (in float32,
`--amp bf16` and `--amp auto`) and d2l 0.17.6's `train_ch3` (`bench/d2l_ref.py`), each in a fresh process after an
untimed warm-up; scikit-learn's `MLPClassifier`; in this process, the loop against its matrix-product floor and a
bare loop (`bench/bench_train.py`, `bench/roofline.py`); start-up to the first batch (`bench/bench_data.py`). Every
ratio is taken within this one run: on a shared machine seconds move, ratios of neighbouring runs move less.
"""
from __future__ import annotations
import argparse, contextlib, json, os, platform, shutil, subprocess, sys, tempfile, time, warnings
from pathlib import Path
import torch

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import bench_data, bench_train
from mlp_nbdev.data import fashion_mnist_tensors, get_fashion_mnist, load_data_fashion_mnist
from mlp_nbdev.inference import bf16_slowdown, native_bf16

SECTIONS = ('cli', 'd2l', 'sklearn', 'efficiency', 'data')
ENV = {**os.environ, 'MPLBACKEND': 'Agg'}  # of the fresh processes; `--threads` adds OMP_NUM_THREADS

def log(*a): print(*a, file=sys.stderr, flush=True)

def load_avg():
    try: return round(os.getloadavg()[0], 2)
    except OSError: return None

def machine()->dict:
    "What the numbers were measured on, and what the library's bfloat16 probe says here."
    cpu = platform.processor() or platform.machine()
    try: cpu = next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
    except (OSError, StopIteration): pass
    return dict(cpu=cpu, cores=os.cpu_count(), threads=torch.get_num_threads(), torch=torch.__version__,
                cpu_capability=torch.backends.cpu.get_cpu_capability(), python=platform.python_version(),
                load_avg_start=load_avg(), native_bf16=native_bf16('cpu'),
                bf16_step_over_float32=round(bf16_slowdown('cpu'), 2))

def timed_process(cmd)->tuple[subprocess.CompletedProcess, float]:
    "Run `cmd`; the completed process and its wall seconds, start to exit."
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    return r, time.perf_counter() - t

def _failure(r)->dict:
    lines = [l for l in (r.stderr or r.stdout).strip().splitlines() if l.strip()]
    return dict(error=f"exit {r.returncode}: {lines[-1][:200] if lines else 'no output'}")

def d2l_run(root, num_epochs, seed)->dict:
    "d2l 0.17.6's `train_ch3` in a fresh process."
    r, wall = timed_process([sys.executable, str(BENCH/'d2l_ref.py'), '--root', str(root),
                             '--epochs', str(num_epochs), '--seed', str(seed)])
    line = next((l for l in r.stdout.splitlines() if l.startswith('D2L_REPORT ')), None)
    if r.returncode or line is None: return _failure(r)
    rep = json.loads(line[len('D2L_REPORT '):])
    return {**rep, 'wall_s': round(wall, 3), 'final_test_acc': rep['test_acc'][-1]}

def cli_run(root, num_epochs, seed, amp=None)->dict:
    "`mlp-nbdev train --device cpu` in a fresh process, its `metrics.json` read back."
    exe = shutil.which('mlp-nbdev', path=str(Path(sys.executable).parent)) or shutil.which('mlp-nbdev')
    if exe is None: return dict(error='the `mlp-nbdev` command is not installed (pip install -e .)')
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [exe, 'train', '--device', 'cpu', '--epochs', str(num_epochs), '--seed', str(seed), '--data', str(root),
               *(['--amp', amp] if amp else []), '--out', str(Path(tmp)/'run')]
        r, wall = timed_process(cmd)
        if r.returncode: return _failure(r)
        m = json.loads((Path(tmp)/'run'/'metrics.json').read_text())
    warning = next((l.split(': warning: ', 1)[1] for l in r.stderr.splitlines() if ': warning: ' in l), None)
    # training: the epochs' seconds, as d2l's `train_ch3` call is timed; `call_s` adds building the optimizer
    # (`torch.optim` imports `torch._dynamo` on first use, about 1 s, which d2l pays before its call)
    return dict(cmd='mlp-nbdev ' + ' '.join(cmd[1:-2]), train_s=round(sum(r['seconds'] for r in m['history']), 3),
                call_s=round(m['seconds'], 3), wall_s=round(wall, 3), test_acc=round(m['final']['test_acc'], 4),
                amp=amp, amp_warning=warning)

def warm_up(root)->float:
    "Untimed: a process importing what the timed ones import, then a one-epoch `mlp-nbdev train`; its seconds."
    t = time.perf_counter()
    timed_process([sys.executable, '-c', "import torch, torchvision, matplotlib.pyplot\n"
                   "try: import sklearn.neural_network, d2l.torch\nexcept ImportError: pass"])
    cli_run(root, 1, 0)
    return round(time.perf_counter() - t, 2)

def sklearn_run(root, num_epochs, seed)->dict:
    "scikit-learn's `MLPClassifier` on the seed recipe (its own Glorot init), inputs in [0, 1]; `fit`'s seconds."
    try:
        import sklearn
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier
    except ImportError: return dict(error='scikit-learn is not installed (pip install scikit-learn)')
    (Xtr, ytr), (Xte, yte) = fashion_mnist_tensors(True, root), fashion_mnist_tensors(False, root)
    prep = lambda X: (X.reshape(len(X), -1).float() / 255).numpy()
    clf = MLPClassifier(hidden_layer_sizes=(256,), solver='sgd', learning_rate_init=0.1, momentum=0., alpha=0.,
                        nesterovs_momentum=False, batch_size=256, max_iter=num_epochs, random_state=seed, tol=0.,
                        n_iter_no_change=num_epochs + 1)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', ConvergenceWarning)  # max_iter reached: that is the recipe's epochs
        t = time.perf_counter(); clf.fit(prep(Xtr), ytr.numpy()); train_s = time.perf_counter() - t
    return dict(train_s=round(train_s, 3), test_acc=round(float(clf.score(prep(Xte), yte.numpy())), 4),
                epochs=clf.n_iter_, sklearn=sklearn.__version__)

def ratios(rep)->dict:
    "Every ratio of the table, from this one run's numbers."
    ok = lambda *xs: all(x and 'error' not in x for x in xs)
    d, c, s, e, b = (rep.get(k) or {} for k in ('d2l', 'cli', 'sklearn', 'efficiency', 'efficiency_bf16'))
    out, f32 = {}, c.get('float32', {})
    for amp, x in c.items():
        if ok(d, x): out.update({f'{amp}_train_vs_d2l': round(d['train_s'] / x['train_s'], 2),
                                 f'{amp}_whole_vs_d2l': round(d['wall_s'] / x['wall_s'], 2)})
        if amp != 'float32' and ok(f32, x): out[f'{amp}_over_float32'] = round(x['train_s'] / f32['train_s'], 2)
    if ok(s, f32): out['float32_train_vs_sklearn'] = round(s['train_s'] / f32['train_s'], 2)
    if ok(e, b): out['bf16_forced_over_float32'] = round(b['run_s'] / e['run_s'], 2)
    return out

def _faster(ratio, than)->str:
    return f"{ratio:.1f}x faster than {than}" if ratio >= 1 else f"{1 / ratio:.1f}x slower than {than}"

def _row(name, x, note='', train='train_s', acc='test_acc')->str:
    "A row of the table: `x`'s seconds and accuracy (its error instead, if it failed) and a note."
    if 'error' in x: return f"| {name} | failed: {x['error']} | | | |"
    cells = [f"{x[k]:{fmt}}" if k in x else '' for k, fmt in ((train, '.2f'), ('wall_s', '.1f'), (acc, '.4f'))]
    return f"| {name} | {' | '.join(cells)} | {note} |"

HEAD = ("Measured in one run on {cpu} ({cores} cores, {threads} torch threads, torch CPU capability "
        "{cpu_capability}), torch {torch}, Python {python}; load average {load_avg_start} at the start, "
        "{load_avg_end} at the end; native bfloat16: {native}, the library's probe: a bf16 step takes "
        "{bf16_step_over_float32:.2f}x a float32 one.")
ROWS = dict(  # the rows that are one sentence, filled from their section of the report
    bare="| the loop against a bare one (forward, loss, backward, step; same batches; median of {repeats} epochs) "
         "| | | | a training epoch {train_epoch_over_bare:.2f}x the bare loop's {bare_s:.3f} s; with its test pass "
         "{train_ch3_over_bare:.2f}x |",
    phases_us="| where a step goes (bare loop, µs per step): batch {data:.0f}, forward {forward:.0f} (its products "
              "alone, hot in cache: {gemm_forward:.0f}), backward {backward:.0f} ({gemm_backward:.0f}), optimizer step "
              "{step:.0f} | | | | |",
    data="| start-up to the first batch: warm cache / cold cache / `import torch` alone | | {startup_warm_s:.2f} / "
         "{startup_cold_s:.2f} / {startup_import_torch_s:.2f} | | |")

def table(rep)->str:
    "A line saying where the report was measured, then the report as one markdown table."
    m, E, r = rep['machine'], rep['epochs'], rep['ratios']
    lines = [HEAD.format(**m, native='yes' if m['native_bf16'] else 'no'), '',
             f"| Seed recipe (784-256-10, SGD lr 0.1, batch 256), {E} epoch{'s' * (E != 1)}, CPU | Training s "
             "| Whole process s | Test accuracy | Ratios (this run) |", '|---|---|---|---|---|']
    if d := rep.get('d2l'): lines.append(_row(f"d2l `train_ch3` ({d.get('source')})", d, d.get('failed_check') or '',
                                              acc='final_test_acc'))
    for amp, x in rep.get('cli', {}).items():
        notes = [f"{r[f'{amp}_over_float32']:.2f}x the float32 training time"] if f'{amp}_over_float32' in r else []
        if f'{amp}_train_vs_d2l' in r: notes.append(f"training {_faster(r[f'{amp}_train_vs_d2l'], 'd2l')}, "
                                                    f"whole {_faster(r[f'{amp}_whole_vs_d2l'], 'd2l')}")
        if x.get('amp_warning'): notes.append(f"it said: {x['amp_warning'].split('; ')[0][:160]}")
        lines.append(_row('`mlp-nbdev train`' + (f' `--amp {amp}`' if amp != 'float32' else ''), x, '; '.join(notes)))
    if s := rep.get('sklearn'):
        q = r.get('float32_train_vs_sklearn')
        lines.append(_row(f"scikit-learn {s.get('sklearn', '')} `MLPClassifier` (sgd, lr 0.1, momentum 0, alpha 0, "
                          "batch 256)", s, f"`mlp-nbdev train` trains {_faster(q, 'this')}" if q else ''))
    if e := rep.get('efficiency'):
        lines.append(_row("`run_recipe('seed')` in this process, float32", e, f"{100 * e['efficiency']:.0f}% of its "
                          f"matrix-product floor ({e['limit_s']:.2f} s of `torch.mm` at the layer shapes)", 'run_s'))
    if b := rep.get('efficiency_bf16'):
        q = r.get('bf16_forced_over_float32')
        note = (f"{q:.2f}x the float32 time; " if q else '') + f"{100 * b['efficiency']:.0f}% of its bf16 floor "
        lines.append(_row('the same, bfloat16 autocast forced (`amp=torch.bfloat16`)', b,
                          note + f"({b['limit_s']:.2f} s)", 'run_s'))
    lines += [row.format(**rep[k]) for k, row in ROWS.items() if rep.get(k)]
    return '\n'.join(lines)

def main(argv=None)->dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--quick', action='store_true', help='1 epoch; no warm-up, d2l, bfloat16 or data sections')
    p.add_argument('--epochs', type=int, default=None, help='epochs of every run (default 10; 1 with --quick)')
    p.add_argument('--seed', type=int, default=0, help='seed of the weights and the shuffling (default 0)')
    p.add_argument('--threads', type=int, default=None, help="torch's intra-op threads, here and (OMP_NUM_THREADS) in "
                   "the fresh processes (default: torch's); 1 is robust on a crowded CPU")
    p.add_argument('--sections', default=','.join(SECTIONS), help=f"a subset of {','.join(SECTIONS)} (default: all)")
    p.add_argument('--root', default=None, help='data root (default: see mlp_nbdev.data.data_root)')
    p.add_argument('--out', default=None, help='also write the JSON report to this file')
    a = p.parse_args(argv)
    epochs, sections = a.epochs or (1 if a.quick else 10), set(a.sections.split(','))
    if epochs < 1: p.error(f"--epochs must be at least 1, got {epochs}")
    if sections - set(SECTIONS): p.error(f"unknown --sections {sorted(sections - set(SECTIONS))}: choose from "
                                         f"{','.join(SECTIONS)}")
    if a.quick: sections -= {'d2l', 'data'}
    if a.threads: torch.set_num_threads(a.threads); ENV['OMP_NUM_THREADS'] = str(a.threads)
    root = get_fashion_mnist(a.root)
    rep = dict(machine=machine(), epochs=epochs, seed=a.seed)
    if not a.quick and sections & {'cli', 'd2l'}:
        log("warm-up (untimed): the libraries read from disk once"); rep['warm_up_s'] = warm_up(root)
    if 'cli' in sections:  # float32, bf16 and auto back to back: their ratios see the same load
        rep['cli'] = {}
        for amp in ['float32'] + ([] if a.quick else ['bf16', 'auto']):
            log(f"cli: mlp-nbdev train, {amp}")
            rep['cli'][amp] = cli_run(root, epochs, a.seed, None if amp == 'float32' else amp)
    if 'd2l' in sections: log("d2l: train_ch3 in a fresh process"); rep['d2l'] = d2l_run(root, epochs, a.seed)
    if 'sklearn' in sections: log("sklearn: MLPClassifier"); rep['sklearn'] = sklearn_run(root, epochs, a.seed)
    if 'efficiency' in sections:  # float32 and forced bf16 back to back, on the same batches
        data, min_s = load_data_fashion_mnist(256, root=root, seed=a.seed), 0.002 if a.quick else 0.01
        log("efficiency: run_recipe against torch.mm, float32")
        rep['efficiency'] = bench_train.efficiency_run(data, epochs, a.seed, min_s)
        if not a.quick:
            log("efficiency: bf16 forced")
            rep['efficiency_bf16'] = bench_train.efficiency_run(data, epochs, a.seed, bf16=True)
        log("efficiency: the loop against a bare one, where a step goes")
        rep['bare'] = bench_train.against_bare(data, 1 if a.quick else 5)
        rep['phases_us'] = bench_train.phase_split(data[0], epochs=2 if a.quick else 3)
    if 'data' in sections:
        log("data: start-up to the first batch")
        with contextlib.redirect_stdout(sys.stderr): rep['data'] = bench_data.main(startup_only=True)  # its JSON line
    rep['machine']['load_avg_end'] = load_avg()
    rep['ratios'] = ratios(rep)
    if a.out: Path(a.out).write_text(json.dumps(rep, indent=1) + '\n')
    print(table(rep))
    return rep

if __name__ == '__main__':
    main()

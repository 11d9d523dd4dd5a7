"The benchmark: its arithmetic, its in-process measurements on small data, its table, and its quick mode end to end."
import importlib.util, json, subprocess, sys
from pathlib import Path
import pytest, torch

BENCH = Path(__file__).parents[1]/'bench'
sys.path.insert(0, str(BENCH))
import bench_train, roofline
from run import ratios, table

def test_flops_formula():
    f = roofline.mlp_flops((784, 256, 10), 60000, 10000, 10)
    assert f['forward_per_sample'] == 2*784*256 + 2*256*10, f
    assert f['backward_per_sample'] == 2*784*256 + 2*256*10 + 2*256*10, f  # no input gradient for the first layer
    assert f['total'] == 10 * (60000 * 818176 + 10000 * 406528), f
    assert sorted(roofline.gemms(256)) == ['dW1', 'dW2', 'dX2', 'fwd1', 'fwd2']

def test_floor_arithmetic():
    "The floor: the median of each product's probes, per step, times the steps of a run; the run's share of it."
    probes = [dict(fwd1=1e-3, dW1=2e-3, eval_fwd1=1e-3), dict(fwd1=3e-3, dW1=2e-3, eval_fwd1=5e-3),
              dict(fwd1=2e-3, dW1=9e-3, eval_fwd1=3e-3)]  # medians 2, 2 and 3 ms
    e = roofline.efficiency((784, 256), 100, 50, probes, epoch_seconds=[1., 2.], n_train=1000, n_test=100)
    # per epoch 10 steps x 4 ms + 2 evaluation steps x 3 ms = 0.046 s; two epochs 0.092 s against 3 s run
    assert (e['limit_s'], e['run_s'], e['efficiency'], e['efficiency_best_epoch']) == (0.092, 3., 0.031, 0.046), e
    assert e['gemm_us'] == dict(fwd1=2000., dW1=2000., eval_fwd1=3000.), e

def test_time_gemm_is_per_product():
    "A product timed alone: positive, and a 4x larger one (in every dimension but one) takes longer."
    small = roofline.time_gemm((64, 64), (64, 64), False, False, 'cpu', min_s=0.002)
    large = roofline.time_gemm((256, 256), (256, 256), False, False, 'cpu', min_s=0.002)
    assert 0 < small < large, (small, large)

def batches(n, batch_size=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    X, y = torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)
    return list(zip(X.split(batch_size), y.split(batch_size)))

def test_against_bare_and_phase_split():
    "On small batches: every contender timed, the ratios are the medians' ratios; every phase of a step measured."
    o = bench_train.against_bare((batches(640), batches(128)), repeats=1)
    assert o['train_ch3_over_bare'] == pytest.approx(o['train_ch3_s'] / o['bare_s'], rel=0.01), o  # of rounded seconds
    assert all(o[k] > 0 for k in ('bare_s', 'train_epoch_s', 'train_ch3_s')), o
    ph = bench_train.phase_split(batches(640), epochs=1)
    assert all(ph[k] > 0 for k in ('data', 'forward', 'backward', 'step', 'gemm_forward', 'gemm_backward')), ph

REPORT = dict(machine=dict(cpu='x', cores=2, threads=2, cpu_capability='AVX2', torch='2', python='3', load_avg_start=1,
                           load_avg_end=2, native_bf16=False, bf16_step_over_float32=5.0),
              epochs=10, d2l=dict(source='d2l 0.17.6 package', train_s=75., wall_s=80., final_test_acc=0.85),
              cli=dict(float32=dict(train_s=5., wall_s=10., test_acc=0.84),
                       bf16=dict(train_s=6.5, wall_s=12., test_acc=0.84, amp_warning='it is slower; use auto'),
                       auto=dict(error='exit 1: boom')),
              sklearn=dict(train_s=7.6, test_acc=0.85, sklearn='1.9'),
              efficiency=dict(run_s=4.5, limit_s=2.9, efficiency=0.644, test_acc=0.83),
              efficiency_bf16=dict(run_s=3.3, limit_s=1.4, efficiency=0.42, test_acc=0.83),
              bare=dict(repeats=5, bare_s=0.4, train_epoch_s=0.42, train_ch3_s=0.44, train_epoch_over_bare=1.05,
                        train_ch3_over_bare=1.1),
              phases_us=dict(data=111, forward=708, backward=859, step=109, gemm_forward=546, gemm_backward=598),
              data=dict(startup_warm_s=1.24, startup_cold_s=2.58, startup_import_torch_s=1.19))

def test_table_from_a_report():
    "Ratios come from the report's own numbers; a failed run is a row, not a crash; one row per measurement."
    rep = {**REPORT, 'ratios': ratios(REPORT)}
    assert rep['ratios'] == dict(float32_train_vs_d2l=15.0, float32_whole_vs_d2l=8.0, bf16_train_vs_d2l=11.54,
                                 bf16_whole_vs_d2l=6.67, bf16_over_float32=1.3, float32_train_vs_sklearn=1.52,
                                 bf16_forced_over_float32=0.73), rep['ratios']
    t = table(rep)
    lines = t.splitlines()
    assert lines[0].startswith('Measured in one run on x') and 'native bfloat16: no' in lines[0], lines[0]
    # the machine, a blank, header 2, d2l, the CLI 3, scikit-learn, the loop 2, the bare loop, the phases, start-up
    assert len(lines) == 2 + 2 + 1 + 3 + 1 + 2 + 3, t
    assert all(l.startswith('|') and l.count('|') == 6 for l in lines[2:]), t
    for want in ('| `mlp-nbdev train` | 5.00 | 10.0 | 0.8400 | training 15.0x faster than d2l, whole 8.0x faster '
                 'than d2l |',
                 '| 1.30x the float32 training time; training 11.5x faster than d2l, whole 6.7x faster than d2l; '
                 'it said: it is slower |', '| `mlp-nbdev train` `--amp auto` | failed: exit 1: boom |',
                 '`mlp-nbdev train` trains 1.5x faster than this |', '64% of its matrix-product floor (2.90 s',
                 '0.73x the float32 time; 42% of its bf16 floor (1.40 s)', 'a training epoch 1.05x the bare loop',
                 'batch 111, forward 708 (its products alone, hot in cache: 546)', '| 1.24 / 2.58 / 1.19 |'):
        assert want in t, (want, t)
    slow = {**REPORT, 'cli': dict(float32=dict(train_s=10., wall_s=12., test_acc=0.84))}
    assert 'trains 1.3x slower than this' in table({**slow, 'ratios': ratios(slow)})

def test_quick_mode_on_cpu(tmp_path):
    "`bench/run.py --quick`: the CLI in a fresh process, MLPClassifier, the loop against its floor and a bare loop."
    out = tmp_path/'report.json'
    r = subprocess.run([sys.executable, str(BENCH/'run.py'), '--quick', '--out', str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    rep = json.loads(out.read_text())
    assert rep['epochs'] == 1 and rep['machine']['cpu_capability'] and 'load_avg_end' in rep['machine'], rep['machine']
    assert 'd2l' not in rep and 'data' not in rep and 'efficiency_bf16' not in rep, sorted(rep)
    c = rep['cli']['float32']
    assert sorted(rep['cli']) == ['float32'] and 0 < c['train_s'] < c['wall_s'] and c['test_acc'] > 0.6, rep['cli']
    s = rep['sklearn']
    assert ('error' in s and 'not installed' in s['error']) or (s['test_acc'] > 0.6 and s['epochs'] == 1), s
    e, ph = rep['efficiency'], rep['phases_us']
    assert e['flops']['train_per_sample'] == 818176 and 0 < e['efficiency'] and e['limit_s'] > 0, e
    assert all(ph[k] > 0 for k in ('data', 'forward', 'backward', 'step', 'gemm_forward', 'gemm_backward')), ph  # no timing compared: a busy machine reorders them
    lines = r.stdout.strip().splitlines()
    # one table, nothing else: the machine, a blank, header 2, the CLI, scikit-learn, the loop, the bare one, phases
    assert lines[0].startswith('Measured in one run on') and len(lines) == 2 + 2 + 5, r.stdout
    assert all(l.startswith('|') for l in lines[2:]) and lines[6].startswith("| `run_recipe('seed')` in this"), r.stdout

def test_bad_sections():
    r = subprocess.run([sys.executable, str(BENCH/'run.py'), '--sections', 'cli,fast'], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and "unknown --sections ['fast']: choose from cli,d2l" in r.stderr, r.stderr

@pytest.mark.skipif(importlib.util.find_spec('d2l') is not None, reason='checks the message of a machine without d2l')
def test_d2l_missing_says_how_to_install(tmp_path):
    r = subprocess.run([sys.executable, str(BENCH/'d2l_ref.py'), '--root', str(tmp_path), '--epochs', '1'],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and 'pip install --no-deps d2l==0.17.6 pandas' in r.stderr, r.stderr
    assert 'Traceback' not in r.stderr, r.stderr

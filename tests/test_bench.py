"The benchmark suite: its quick mode runs the GPU-style path on the CPU, and that path computes what torch's does."
import json, subprocess, sys
from pathlib import Path
import pytest, torch
from torch import nn

BENCH = Path(__file__).parents[1]/'bench'
sys.path.insert(0, str(BENCH))
import roofline
from fast import FastMLP
from run import has_cxx, ratios, table
from mlp_nbdev.concise import make_net
from mlp_nbdev.recipes import get_recipe, make_trainer

def synthetic(n=512, n_test=128, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 256, (n, 784), dtype=torch.uint8, generator=g), torch.randint(0, 10, (n,), generator=g),
            torch.randint(0, 256, (n_test, 784), dtype=torch.uint8, generator=g), torch.randint(0, 10, (n_test,), generator=g))

def test_flops_formula():
    f = roofline.mlp_flops((784, 256, 10), 60000, 10000, 10)
    assert f['forward_per_sample'] == 2*784*256 + 2*256*10
    assert f['backward_per_sample'] == 2*784*256 + 2*256*10 + 2*256*10  # no input gradient for the first layer
    assert f['total'] == 10 * (60000 * 818176 + 10000 * 406528)
    assert sorted(roofline.gemms(256)) == ['dW1', 'dW2', 'dX2', 'fwd1', 'fwd2']

ADAMW = dict(batch_size=128, lr=2e-3, optimizer='adamw', weight_decay=0.1, schedule='onecycle', init='kaiming',
             normalize=True, label_smoothing=0.1)

def flat(net): return torch.cat([p.detach().reshape(-1) for p in net.parameters()])

@pytest.mark.parametrize('recipe', ['seed', 'best', 'adamw'])
def test_fast_step_matches_torch(recipe):
    "An epoch of the fast trainer's steps = the same steps of `make_net` + `make_trainer` + `CrossEntropyLoss`, last batch short."
    data = synthetic(500)
    recipe = ADAMW if recipe == 'adamw' else recipe
    f = FastMLP(data, recipe, num_epochs=1, seed=3)
    r = get_recipe(recipe)
    torch.manual_seed(3)
    net = make_net('concise', 256, r['init'], r['normalize'])
    _, opt, sched = make_trainer(net, r, f.nb)
    loss = nn.CrossEntropyLoss(label_smoothing=r['label_smoothing'])  # written out: the fast trainer's must equal it
    loss_sum, sizes = 0., []
    for j in range(f.nb):
        idx, n = f.batch(j)
        f.step(idx, n); sizes.append(n)
        X, y = data[0][idx].float().div(255).reshape(-1, 1, 28, 28), data[1][idx]
        l = loss(net(X), y)
        opt.zero_grad(); l.backward(); opt.step()
        if sched is not None: sched.step()
        loss_sum += l.item() * len(y)
    assert sizes[-1] < f.B and sum(sizes) == 500, sizes
    torch.testing.assert_close(flat(f.net), flat(net), rtol=1e-4, atol=1e-5)
    assert f.loss_sum.item() == pytest.approx(loss_sum, rel=1e-5)
    if sched is not None: assert f.sched.last_epoch == sched.last_epoch == f.nb, (f.sched.last_epoch, sched.last_epoch)

def test_fast_fit_learns():
    "Images that are a class's template plus noise: a few epochs learn them, the loss falls, one record per epoch."
    g = torch.Generator().manual_seed(1)
    templates = torch.randint(0, 256, (10, 784), generator=g)
    def noisy(n):
        y = torch.randint(0, 10, (n,), generator=g)
        return (0.5 * templates[y] + 0.5 * torch.randint(0, 256, (n, 784), generator=g)).to(torch.uint8), y
    res = FastMLP((*noisy(512), *noisy(256)), 'best', num_epochs=3, batch_size=64).fit()
    assert [r['epoch'] for r in res['records']] == [1, 2, 3]
    assert res['records'][-1]['train_loss'] < res['records'][0]['train_loss'], res['records']
    assert res['test_acc'] > 0.9, res['records']

def test_fast_bad_input():
    with pytest.raises(ValueError, match="mode must be one of"): FastMLP(synthetic(), mode='jit')
    with pytest.raises(ValueError, match="dtype must be"): FastMLP(synthetic(), dtype=torch.float16)
    with pytest.raises(ValueError, match="without dropout"): FastMLP(synthetic(), dict(dropout=0.2))

def test_padded_batch_is_the_short_batch():
    "The compiled path's padding: a batch padded with the IGNORE sample has the short batch's loss and gradients."
    data = synthetic(500)
    f = FastMLP(data, 'best', num_epochs=1, seed=3, mode='compile')  # `fit` compiles; the steps here stay eager
    idx, n = f.batch(f.nb - 1)
    assert len(idx) == f.B and n == 500 % f.B and f.pad == f.B - n and (idx[n:] == 500).all(), (len(idx), n, idx[n:])
    def grads(X, y):
        f.net.zero_grad(); l, _ = f._loss(X, y); l.backward()
        return l.detach(), torch.cat([p.grad.reshape(-1) for p in f.net.parameters()])
    l_pad, g_pad = grads(f.Xtr[idx], f.ytr[idx])
    l_short, g_short = grads(f.Xtr[idx[:n]], f.ytr[idx[:n]])
    torch.testing.assert_close(l_pad, l_short); torch.testing.assert_close(g_pad, g_short)

@pytest.mark.skipif(not has_cxx(), reason='torch.compile on the CPU needs a C++ compiler')
def test_compile_mode_matches_eager():
    "The compiled path (on a GPU, with CUDA graphs on top) trains to the eager weights, warm-up undone, compiled once."
    import torch._dynamo
    data = synthetic(500)  # batch 128: a short last batch of 116, padded
    torch._dynamo.reset()
    with torch._dynamo.config.patch(recompile_limit=1, fail_on_recompile_limit_hit=True):  # a recompile would raise
        fits = {m: FastMLP(data, 'best', num_epochs=2, seed=3, mode=m) for m in ('eager', 'compile')}
        res = {m: f.fit() for m, f in fits.items()}
    assert res['compile']['setup_s'] > 0 and fits['compile'].loss_fn is not fits['compile']._loss
    torch.testing.assert_close(flat(fits['compile'].net), flat(fits['eager'].net), rtol=1e-4, atol=1e-5)
    assert [r['train_loss'] for r in res['compile']['records']] == pytest.approx([r['train_loss'] for r in res['eager']['records']], rel=1e-4)
    assert [r['train_acc'] for r in res['compile']['records']] == [r['train_acc'] for r in res['eager']['records']]

def test_quick_mode_on_cpu(tmp_path):
    "`bench/run.py --device cpu --quick`: the CLI in a fresh process, MLPClassifier, the floor, the fast trainer; one table."
    out = tmp_path/'report.json'
    r = subprocess.run([sys.executable, str(BENCH/'run.py'), '--device', 'cpu', '--quick', '--out', str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    rep = json.loads(out.read_text())
    assert rep['machine']['device'] == 'cpu' and rep['epochs'] == 1 and rep['machine']['cpu_capability'], rep['machine']
    assert 'd2l' not in rep and 'data' not in rep, sorted(rep)
    c = rep['cli']['float32']
    assert 'error' not in c and 0 < c['train_s'] < c['wall_s'] and c['test_acc'] > 0.6, c
    s = rep['sklearn']
    assert ('error' in s and 'not installed' in s['error']) or (s['test_acc'] > 0.6 and s['epochs'] == 1), s
    if 'error' not in s: assert rep['ratios']['train_vs_sklearn'] == round(s['train_s'] / c['train_s'], 2), rep['ratios']
    e, f = rep['efficiency'], rep['fast']
    assert e['flops']['train_per_sample'] == 818176 and 0 < e['efficiency'] and e['limit_s'] > 0, e
    assert sorted((x['recipe'], x['mode'], x['dtype']) for x in f['rows']) == sorted(
        (a, 'eager', b) for a in ('seed', 'best') for b in ('float32', 'bfloat16')), f['rows']
    assert all('error' not in x and x['test_acc'] > 0.3 for x in f['rows']), f['rows']
    assert f['kept']['best']['test_acc'] > 0.7, f['kept']
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith('Measured in one run on') and 'torch CPU capability' in lines[0], lines[0]
    # one table, nothing else: header 2, CLI, scikit-learn, the loop, where a step goes, the ceiling, fast 2 (no bf16 rows with --quick)
    assert all(l.startswith('|') for l in lines[2:]) and len(lines) == 2 + 2 + 1 + 1 + 1 + 1 + 1 + 2, r.stdout
    ph = e['phases_us']
    assert all(ph[k] > 0 for k in ('data', 'forward', 'backward', 'step')) and ph['gemm_forward'] < ph['forward'], ph
    assert any(l.startswith('| where a step goes') for l in lines), r.stdout
    assert ('error' in s) == (not any(l.startswith('| ceiling on this machine') for l in lines)), r.stdout
    assert any(l.startswith('| `mlp-nbdev train` |') for l in lines) and any(l.startswith("| `run_recipe('seed')` in this process, float32") for l in lines) and any('`bench/fast.py`, best recipe (cpu' in l for l in lines), r.stdout

def test_table_from_a_report():
    "Ratios come from the report's own numbers; each target says met or NOT met; a failed run is a row, not a crash."
    rep = dict(machine=dict(cpu='x', cores=2, threads=2, cpu_capability='AVX2', torch='2', python='3', load_avg_start=1, load_avg_end=2,
                            native_bf16=False, bf16_step_over_float32=5.0),
               epochs=10, d2l=dict(source='d2l 0.17.6 package', train_s=75., wall_s=80., final_test_acc=0.85),
               cli=dict(float32=dict(train_s=5., wall_s=10., test_acc=0.84), bf16=dict(train_s=6.5, wall_s=12., test_acc=0.84),
                        auto=dict(error='exit 1: boom')),
               sklearn=dict(train_s=7.6, test_acc=0.85, sklearn='1.9'))
    rep['ratios'] = ratios(rep)
    assert rep['ratios'] == dict(train_vs_d2l=15.0, whole_vs_d2l=8.0, train_vs_sklearn=1.52, bf16_slowdown=1.3), rep['ratios']
    t = table(rep)
    assert 'training 15.0x faster than d2l; whole 8.0x faster than d2l | target >= 14: met; target >= 10: NOT met |' in t, t
    assert '1.30x the float32 training time; training 11.5x faster than d2l, whole 6.7x faster than d2l | target <= 1.2: NOT met |' in t and '| `mlp-nbdev train` `--amp auto` | failed: exit 1: boom |' in t, t
    assert 'trains 1.5x faster than this | target >= 1.5: met |' in t and 'torch CPU capability AVX2' in t, t
    assert 'native bfloat16: no, the library\'s probe: a bf16 step takes 5.00x a float32 one' in t, t
    rep['cli']['float32']['train_s'] = 10.
    assert 'trains 1.3x slower than this' in table({**rep, 'ratios': ratios(rep)})

def test_ceilings_from_the_floor():
    "What the machine allows: each ratio at 100% of the float32 floor, and the share of the floor each target needs."
    rep = dict(machine=dict(cpu='x', cores=2, threads=2, cpu_capability='AVX512', torch='2', python='3', load_avg_start=1),
               epochs=10, d2l=dict(train_s=56., wall_s=61., final_test_acc=0.85),
               cli=dict(float32=dict(train_s=6., wall_s=9., test_acc=0.83)), sklearn=dict(train_s=6., test_acc=0.85),
               efficiency=dict(run_s=5., limit_s=3., efficiency=0.6, test_acc=0.83))
    r = ratios(rep)
    # training: 56 / 3 = 18.7x at best; 14x needs 14 * 3 / 56 = 75% of the floor. Whole: 61 / (3 + 3 s besides training)
    # = 10.2x; 10x leaves 6.1 - 3 = 3.1 s of training: 3 / 3.1 = 97%. scikit-learn: 6 / 3 = 2x; 1.5x needs 75%.
    assert (r['ceiling_train_vs_d2l'], r['need_train_vs_d2l']) == (18.67, 0.75), r
    assert (r['ceiling_whole_vs_d2l'], r['need_whole_vs_d2l']) == (10.17, 0.968), r
    assert (r['ceiling_train_vs_sklearn'], r['need_train_vs_sklearn']) == (2.0, 0.75), r
    row = next(l for l in table({**rep, 'ratios': r}).splitlines() if l.startswith('| ceiling on this machine'))
    assert '18.7x d2l training; 10.2x d2l whole process; 2.0x scikit-learn' in row and '14x needs 75% of the floor' in row, row
    rep['d2l']['wall_s'] = 8.  # start-up alone above the whole-process budget: no training time could meet it
    assert ratios(rep)['need_whole_vs_d2l'] == float('inf') and 'more than start-up leaves' in table({**rep, 'ratios': ratios(rep)})
    assert 'ceiling_train_vs_d2l' not in ratios({**rep, 'efficiency': {}}), 'no floor, no ceiling'

def test_d2l_copy_runs(tmp_path):
    "The written-out d2l copy trains an epoch on a fresh process and reports its accuracy (the fallback when d2l is absent)."
    from mlp_nbdev.data import get_fashion_mnist
    r = subprocess.run([sys.executable, str(BENCH/'d2l_ref.py'), '--root', str(get_fashion_mnist()), '--epochs', '1', '--copy'],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    rep = json.loads(next(l for l in r.stdout.splitlines() if l.startswith('D2L_REPORT ')).split(' ', 1)[1])
    assert rep['source'].startswith('copy of d2l 0.17.6') and len(rep['test_acc']) == 1 and rep['test_acc'][0] > 0.6, rep

@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the message of a machine without CUDA')
def test_cuda_asked_without_gpu():
    r = subprocess.run([sys.executable, str(BENCH/'run.py'), '--device', 'cuda', '--quick'], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and 'sees no CUDA GPU' in r.stderr and 'Traceback' not in r.stderr

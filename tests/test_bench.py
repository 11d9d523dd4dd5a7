"The benchmark suite: its quick mode runs the GPU-style path on the CPU, and that path computes what torch's does."
import json, subprocess, sys
from pathlib import Path
import pytest, torch
from torch import nn

BENCH = Path(__file__).parents[1]/'bench'
sys.path.insert(0, str(BENCH))
import roofline
from fast import FastMLP
from run import has_cxx
from mlp_nbdev.concise import make_net, make_trainer, RECIPES

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

@pytest.mark.parametrize('recipe', ['seed', 'best', 'adamw'])
@pytest.mark.parametrize('backward', ['manual', 'autograd'])
def test_fast_step_matches_torch(recipe, backward):
    "Four steps of the fast trainer = four steps of `make_net` + `make_trainer` + `CrossEntropyLoss` on the same batches."
    data = synthetic()
    recipe = ADAMW if recipe == 'adamw' else recipe
    f = FastMLP(data, recipe, num_epochs=1, seed=3, backward=backward)
    r = {**RECIPES['seed'], **(RECIPES[recipe] if isinstance(recipe, str) else recipe)}
    torch.manual_seed(3)
    net = make_net('concise', 256, r['init'], r['normalize'])
    opt, sched = make_trainer(net, r['optimizer'], r['lr'], r['momentum'], r['weight_decay'], r['schedule'], f.nb)
    loss = nn.CrossEntropyLoss(label_smoothing=r['label_smoothing'])
    for j in range(f.nb):
        idx = torch.arange(j * f.B, min((j + 1) * f.B, 512))
        f._step(idx)
        X, y = data[0][idx].float().div(255).reshape(-1, 1, 28, 28), data[1][idx]
        opt.zero_grad(); loss(net(X), y).backward(); opt.step()
        if sched is not None: sched.step()
    ref = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    torch.testing.assert_close(f.P.detach(), ref, rtol=1e-4, atol=1e-5)
    assert int(f.t) == f.nb

def test_fast_fit_learns():
    "Images that are a class's template plus noise: a few epochs learn them, the loss falls, one record per epoch."
    g = torch.Generator().manual_seed(1)
    templates = torch.randint(0, 256, (10, 784), generator=g)
    def noisy(n):
        y = torch.randint(0, 10, (n,), generator=g)
        return (0.5 * templates[y] + 0.5 * torch.randint(0, 256, (n, 784), generator=g)).to(torch.uint8), y
    res = FastMLP((*noisy(512), *noisy(256)), 'best', num_epochs=3, batch_size=64).fit()
    assert [r['epoch'] for r in res['records']] == [1, 2, 3]
    assert res['records'][-1]['train_loss'] < res['records'][0]['train_loss']
    assert res['test_acc'] > 0.9, res['records']

def test_fast_bad_input():
    with pytest.raises(ValueError, match="mode must be one of"): FastMLP(synthetic(), mode='jit')
    with pytest.raises(ValueError, match="needs a CUDA device"): FastMLP(synthetic(), mode='graph')
    with pytest.raises(ValueError, match="without dropout"): FastMLP(synthetic(), dict(dropout=0.2))

@pytest.mark.skipif(not has_cxx(), reason='torch.compile on the CPU needs a C++ compiler')
def test_compile_mode_matches_eager():
    "The compiled step (on a GPU, with CUDA graphs on top) trains to the same weights as the eager step, warm-up undone."
    data = synthetic()
    fits = {m: FastMLP(data, 'best', num_epochs=2, seed=3, mode=m) for m in ('eager', 'compile')}
    res = {m: f.fit() for m, f in fits.items()}
    assert res['compile']['setup_s'] > 0 and fits['compile'].step is not fits['compile']._step
    torch.testing.assert_close(fits['compile'].P, fits['eager'].P, rtol=1e-4, atol=1e-5)
    assert [r['train_loss'] for r in res['compile']['records']] == pytest.approx([r['train_loss'] for r in res['eager']['records']], rel=1e-4)

def test_quick_mode_on_cpu(tmp_path):
    "`bench/run.py --device cpu --quick`: the project run and the GPU-style path on the CPU, one JSON report."
    out = tmp_path/'report.json'
    r = subprocess.run([sys.executable, str(BENCH/'run.py'), '--device', 'cpu', '--quick', '--out', str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    rep = json.loads(out.read_text())
    assert rep['machine']['device'] == 'cpu' and rep['epochs'] == 1
    s, e, f = rep['seed_vs_d2l'], rep['efficiency'], rep['fast']
    assert s['project_test_acc'] > 0.6 and s['project_s'] > 0 and 'reference_s' not in s
    assert e['flops']['train_per_sample'] == 818176 and 0 < e['efficiency'] and e['limit_s'] > 0
    modes = ('eager', 'compile') if has_cxx() else ('eager',)
    assert sorted((x['recipe'], x['mode'], x['dtype']) for x in f['rows']) == sorted(
        (a, m, b) for a in ('seed', 'best') for m in modes for b in ('float32', 'bfloat16'))
    assert all('error' not in x and x['test_acc'] > 0.3 for x in f['rows']), f['rows']
    assert f['kept']['best']['test_acc'] > 0.7
    assert '| `bench/fast.py` trainer, best (cpu' in r.stdout

@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the message of a machine without CUDA')
def test_cuda_asked_without_gpu():
    r = subprocess.run([sys.executable, str(BENCH/'run.py'), '--device', 'cuda', '--quick'], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and 'sees no CUDA GPU' in r.stderr and 'Traceback' not in r.stderr

"The `mlp-nbdev` command as a user runs it: a real subprocess on the real data."
import json, os, re, signal, subprocess, sys, time
from pathlib import Path
import pytest, torch

EXE = Path(sys.executable).parent/'mlp-nbdev'

def cli(*args, **kw):
    return subprocess.run([str(EXE), *map(str, args)], capture_output=True, text=True, timeout=600, **kw)

@pytest.fixture(scope='module')
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp('cli')/'run'
    r = cli('train', '--epochs', 1, '--out', out)
    assert r.returncode == 0, r.stderr
    return out, r

def test_train_writes_all_outputs(run_dir):
    out, r = run_dir
    assert sorted(p.name for p in out.iterdir()) == ['curves.png', 'metrics.csv', 'metrics.json', 'model.pt', 'predictions.png']
    m = json.loads((out/'metrics.json').read_text())
    assert m['config']['model'] == 'concise' and m['config']['recipe'] == 'seed' and m['config']['lr'] == 0.1
    assert len(m['history']) == 1 and set(m['final']) >= {'train_loss', 'train_acc', 'test_acc'}
    assert 0.5 < m['final']['test_acc'] <= 1 and m['device'] == 'cpu' and 'torch' in m['versions']
    assert 'epoch 1/1' in r.stdout and 'outputs:' in r.stdout and 'Traceback' not in r.stderr
    for png in ('curves.png', 'predictions.png'): assert (out/png).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'

def test_evaluate_reproduces_accuracy(run_dir, tmp_path):
    out, _ = run_dir
    m = json.loads((out/'metrics.json').read_text())
    r = cli('evaluate', out/'model.pt', '--confusion', tmp_path/'cm.png')
    assert r.returncode == 0, r.stderr
    line = [l for l in r.stdout.splitlines() if l.startswith('test accuracy')][0]
    assert float(line.split()[-1]) == pytest.approx(m['final']['test_acc'], abs=5e-5)
    assert 'ankle boot' in r.stdout and (tmp_path/'cm.png').stat().st_size > 1000

@pytest.mark.parametrize('args,code,msg', [
    (['train', '--epochs', '0'], 2, 'must be at least 1, got 0'),
    (['train', '--lr', 'nan'], 2, 'must be a positive finite number'),
    (['train', '--lr', '-1'], 2, 'must be a positive finite number'),
    (['train', '--batch-size', '0'], 2, 'must be at least 1, got 0'),
    (['train', '--model', 'cnn'], 2, "invalid choice: 'cnn'"),
    (['train', '--data', '/nonexistent/data'], 2, 'no such folder'),
    (['evaluate', '/nonexistent/model.pt'], 1, 'no checkpoint at'),
])
def test_bad_input(args, code, msg, tmp_path):
    r = cli(*args, '--out', tmp_path/'out') if args[0] == 'train' else cli(*args)
    assert r.returncode == code, r.stderr
    assert msg in r.stderr and 'Traceback' not in r.stderr
    assert len([l for l in r.stderr.splitlines() if 'error' in l]) == 1
    assert not (tmp_path/'out').exists()   # nothing half-written

def test_corrupted_checkpoint(run_dir, tmp_path):
    out, _ = run_dir
    bad = tmp_path/'model.pt'; bad.write_bytes((out/'model.pt').read_bytes()[:4096])
    r = cli('evaluate', bad)
    assert r.returncode == 1 and 'is not a readable checkpoint' in r.stderr and 'Traceback' not in r.stderr

def test_sigint_leaves_loadable_checkpoint(tmp_path):
    out = tmp_path/'run'
    # pytest-xdist's workers ignore SIGINT, and a child inherits that (Python then installs no KeyboardInterrupt
    # handler): give the command the default disposition a terminal gives it
    p = subprocess.Popen([str(EXE), 'train', '--epochs', '100', '--out', str(out)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env={**os.environ, 'PYTHONUNBUFFERED': '1'},
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    for line in p.stdout:
        lines.append(line)
        if line.startswith('epoch 1/100'): break
    p.send_signal(signal.SIGINT)
    rest, err = p.communicate(timeout=300)
    assert p.returncode == 130, err
    assert 'Traceback' not in err and 'interrupted' in rest
    ckpt = torch.load(out/'model.pt', weights_only=True)
    assert ckpt['epoch'] >= 1 and ckpt['config']['epochs'] == 100
    assert json.loads((out/'metrics.json').read_text())['interrupted'] is True

def test_divergence_is_one_line_exit_1(tmp_path):
    "A learning rate far too high: the loop's DivergenceError, one line on stderr, exit 1, no traceback."
    r = cli('train', '--epochs', 2, '--lr', '1e4', '--out', tmp_path/'run')
    assert r.returncode == 1, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and 'diverged' in lines[0] and 'Traceback' not in r.stderr, r.stderr

def test_full_disk_is_one_line_exit_1():
    "A disk that fills up at epoch 2 on a real 1.2 MB tmpfs: one line naming the file, exit 1, epoch 1's checkpoint whole, no temp file."
    from mlp_nbdev.files import small_disk
    with small_disk('1200k') as (disk, real):
        if not real: pytest.skip('mounting a tmpfs is not allowed here; 12_cli.ipynb runs the same check with a mock')
        out = disk/'run'
        r = cli('train', '--epochs', 2, '--out', out)
        assert r.returncode == 1, (r.returncode, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and f"could not write {out/'model.pt'}" in lines[0] and 'Traceback' not in r.stderr, r.stderr
        assert sorted(p.name for p in out.iterdir()) == ['metrics.csv', 'metrics.json', 'model.pt']  # epoch 1's
        assert torch.load(out/'model.pt', weights_only=True)['epoch'] == 1

def test_help_comes_from_docments():
    "`--help` shows `train`'s docments, once, and the recipe help names the best recipe's weight decay."
    from fastcore.docments import docments
    from mlp_nbdev.cli import train
    r = cli('train', '--help')
    assert r.returncode == 0, r.stderr
    text = ' '.join(r.stdout.split())
    for name in ('epochs', 'recipe', 'amp'): assert ' '.join(docments(train)[name].split()) in text, name
    assert 'weight decay 5e-4' in text and not re.search(r'[\d.]+x faster', text), text  # no measured speed-up: it depends on the CPU

def history(out):
    "The per-epoch records of a run's metrics.json, without the seconds (the only thing that may differ)."
    return [{k: v for k, v in r.items() if k != 'seconds'} for r in json.loads((out/'metrics.json').read_text())['history']]

def test_resume_equals_straight(tmp_path):
    """The seed recipe for 4 epochs straight = 2 epochs, then `--resume` to 4: every loss and accuracy, bit for bit;
    with `--tensorboard`, the event files hold every epoch's scalars."""
    small = ('--hidden', 64)
    assert cli('train', '--epochs', 4, *small, '--out', tmp_path/'straight').returncode == 0
    assert cli('train', '--epochs', 2, *small, '--tensorboard', '--out', tmp_path/'part').returncode == 0
    r = cli('train', '--resume', tmp_path/'part', '--epochs', 4)
    assert r.returncode == 0 and 'continuing after epoch 2' in r.stdout, r.stderr
    assert history(tmp_path/'part') == history(tmp_path/'straight')
    assert len((tmp_path/'part'/'metrics.csv').read_text().splitlines()) == 1 + 4
    # the TensorBoard events, read back: one scalar per epoch and column, the resumed epochs included
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    ea = EventAccumulator(str(tmp_path/'part'/'tensorboard')); ea.Reload()
    assert [e.step for e in ea.Scalars('loss/test')] == [1, 2, 3, 4]
    assert [e.value for e in ea.Scalars('acc/test')] == pytest.approx([h['test_acc'] for h in history(tmp_path/'part')])

def start_train(*args):
    return subprocess.Popen([str(EXE), 'train', *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, 'PYTHONUNBUFFERED': '1'})

def wait_for(p, prefix):
    lines = []
    for line in p.stdout:
        lines.append(line)
        if line.startswith(prefix): return lines
    raise AssertionError(f"no line starting {prefix!r}: {lines} {p.stderr.read()}")

def test_one_folder_one_run_and_sigterm(tmp_path):
    """While a run trains, a second run or a resume into its folder stops with one line and exit 2; SIGTERM ends the
    run with the epochs done saved (checkpoint, metrics.json, metrics.csv) and exit 143."""
    out = tmp_path/'run'
    p = start_train('--epochs', 100, '--hidden', 64, '--out', out)
    wait_for(p, 'epoch 1/100')
    for second in cli('train', '--epochs', 1, '--out', out), cli('train', '--resume', out):  # a new run; a resume
        assert second.returncode == 2 and len(second.stderr.strip().splitlines()) == 1, second.stderr
        assert 'is not empty' in second.stderr or 'in use by another run' in second.stderr, second.stderr
    assert 'in use by another run' in second.stderr, second.stderr
    p.send_signal(signal.SIGTERM)
    rest, err = p.communicate(timeout=300)
    assert p.returncode == 143 and 'Traceback' not in err and 'interrupted' in rest, (p.returncode, rest, err)
    m = json.loads((out/'metrics.json').read_text())
    saved = torch.load(out/'model.pt', weights_only=True)['epoch']
    assert m['interrupted'] is True and len(m['history']) == saved >= 1, (m['interrupted'], len(m['history']), saved)
    assert len((out/'metrics.csv').read_text().splitlines()) == 1 + saved

def test_best_stopped_and_resumed_equals_straight(tmp_path):
    "`best` for 4 epochs (one-cycle planned for 4), SIGTERM after epoch 2, `--resume`: the history of 4 straight epochs."
    small = ('--recipe', 'best', '--hidden', 64, '--epochs', 4)
    assert cli('train', *small, '--out', tmp_path/'straight').returncode == 0
    out = tmp_path/'run'
    p = start_train(*small, '--out', out)
    wait_for(p, 'epoch 2/4')
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=300)
    assert p.returncode == 143 and torch.load(out/'model.pt', weights_only=True)['epoch'] < 4, p.returncode
    r = cli('train', '--resume', out)
    assert r.returncode == 0, r.stderr
    assert history(out) == history(tmp_path/'straight')
    bad = cli('train', '--resume', out, '--epochs', 6)
    assert bad.returncode == 2 and 'planned for 4 epochs' in bad.stderr, bad.stderr

def test_changed_checkpoint_refused_by_resume(tmp_path):
    "8 bytes of a weight overwritten in place: `--resume` refuses the file with one line, exit 1, and trains nothing."
    out = tmp_path/'run'
    assert cli('train', '--epochs', 1, '--hidden', 64, '--out', out).returncode == 0
    data = bytearray((out/'model.pt').read_bytes()); i = len(data) // 2; data[i:i+8] = b'\xff' * 8
    (out/'model.pt').write_bytes(bytes(data))
    r = cli('train', '--resume', out, '--epochs', 2)
    assert r.returncode == 1 and 'changed since it was written' in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and len(history(out)) == 1

def test_version_pipe_and_lr_find(tmp_path):
    "`--version`; `evaluate | head -1` ends quietly; `lr-find` prints a suggestion and writes its PNG."
    from mlp_nbdev import __version__
    r = cli('--version')
    assert r.returncode == 0 and r.stdout.strip() == f'mlp-nbdev {__version__}', r.stdout
    assert cli('train', '--epochs', 1, '--hidden', 32, '--out', tmp_path/'run').returncode == 0
    r = subprocess.run(f"'{EXE}' evaluate '{tmp_path/'run'/'model.pt'}' | head -1", shell=True, capture_output=True,
                       text=True, timeout=300)
    assert 'Broken pipe' not in r.stderr and 'Error' not in r.stderr and r.stdout.count('\n') == 1, r.stderr
    r = cli('lr-find', '--num-iter', 60, '--hidden', 64, '--plot', tmp_path/'lr.png', '--threads', 1)
    assert r.returncode == 0 and 'suggested lr' in r.stdout, r.stderr
    assert (tmp_path/'lr.png').read_bytes()[:4] == b'\x89PNG'

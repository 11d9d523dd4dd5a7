"Runs, data and files as processes see them: real subprocesses on real files in temporary folders."
import os, re, shlex, socket, stat, subprocess, sys, time
from pathlib import Path
import pytest

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, 'OMP_NUM_THREADS': '1',
       'PYTHONPATH': os.pathsep.join([str(REPO), *filter(None, [os.environ.get('PYTHONPATH')])])}
DEBIAN = Path('/usr/share/datasets/fashion-mnist')
RAW = ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')
has_debian = pytest.mark.skipif(not all((DEBIAN/f'{n}.gz').is_file() for n in RAW),
                                reason=f"Debian's dataset-fashion-mnist is not installed ({DEBIAN})")

def python(code:str, *args, umask:int|None=None, **kw)->subprocess.CompletedProcess:
    "Run `code` in a new Python process that imports this checkout's mlp_nbdev, under `umask` if given."
    return subprocess.run([sys.executable, '-c', code, *map(str, args)], capture_output=True, text=True, env=ENV,
                          timeout=600, preexec_fn=None if umask is None else (lambda: os.umask(umask)), **kw)

def cli(*args, **kw)->subprocess.CompletedProcess:
    "`mlp-nbdev ARGS` in a new process, through the package's `main` (the console script may be another checkout's)."
    return python('import sys; from mlp_nbdev.cli import main; sys.exit(main(sys.argv[1:]))', *args, **kw)

def mode(p:Path)->str: return oct(stat.S_IMODE(p.stat().st_mode))

@has_debian
def test_data_advice_followed_recovers(tmp_path):
    "A truncated raw file: the error's command, run after deleting the file, places it anew; then all is well."
    root = tmp_path/'data'; root.mkdir()
    r = cli('data', '--data', root)
    assert r.returncode == 0, r.stderr
    lab = root/'FashionMNIST'/'raw'/'t10k-labels-idx1-ubyte'
    lab.write_bytes(lab.read_bytes()[:5000])
    r = cli('data', '--data', root)
    assert r.returncode == 1 and 'Traceback' not in r.stderr, r.stderr
    assert f'{lab} is truncated or corrupted: 5,000 bytes' in r.stderr and f'Delete {lab}, then run' in r.stderr, r.stderr
    command = shlex.split(re.search(r'then run `([^`]+)`', r.stderr)[1])
    assert command[:2] == ['mlp-nbdev', 'data'], command
    lab.unlink()
    r = cli(*command[1:])                                  # the advice, followed
    assert r.returncode == 0, r.stderr
    assert 't10k-labels-idx1-ubyte placed in' in r.stdout and 'Fashion-MNIST is in' in r.stdout, r.stdout
    check = ("import sys; from pathlib import Path; from mlp_nbdev.data import check_raw_file, raw_dir\n"
             "for n in sys.argv[2:]: check_raw_file(raw_dir(sys.argv[1])/n)")
    r = python(check, root, *RAW)                          # all four whole, MD5 included
    assert r.returncode == 0, r.stderr
    r = cli('data', '--data', root)
    assert r.returncode == 0 and r.stdout.startswith('Fashion-MNIST is in'), (r.stdout, r.stderr)

def test_empty_data_root_refused(tmp_path):
    "`--data ''` stops with one line and exit 2, and puts nothing in the current folder."
    r = cli('data', '--data', '', cwd=tmp_path)
    assert r.returncode == 2 and 'empty' in r.stderr and 'Traceback' not in r.stderr, (r.returncode, r.stderr)
    assert list(tmp_path.iterdir()) == []
    r = python("from mlp_nbdev.data import get_fashion_mnist; get_fashion_mnist('')", cwd=tmp_path)
    assert 'ValueError: the data root is an empty string' in r.stderr and list(tmp_path.iterdir()) == [], r.stderr

def _online()->bool:
    try: socket.create_connection(('ossci-datasets.s3.amazonaws.com', 443), timeout=3).close(); return True
    except OSError: return False

def test_failed_download_leaves_nothing(tmp_path):
    "A real download attempt that fails (this test runs only where there is no network) leaves no folder behind."
    if _online(): pytest.skip('there is a network here: the download would succeed')
    code = ("import sys; from mlp_nbdev.data import get_fashion_mnist\n"
            "get_fashion_mnist(sys.argv[1], debian_dir=sys.argv[2])")
    r = python(code, tmp_path/'data', tmp_path/'no-debian')
    assert 'DataError: No Fashion-MNIST data in' in r.stderr and 'the download failed' in r.stderr, r.stderr[-2000:]
    assert list(tmp_path.rglob('*')) == [tmp_path/'data'], list(tmp_path.rglob('*'))

@has_debian
@pytest.mark.parametrize('umask,files,folders', [(0o022, '0o644', '0o755'), (0o077, '0o600', '0o700')])
def test_written_files_follow_the_umask(tmp_path, umask, files, folders):
    "The placed data, the cache, a checkpoint and the metrics get the umask's permissions, not 0600/0700 always."
    root = tmp_path/'data'; root.mkdir()                 # the user's folder; what goes in it is the package's
    r = cli('data', '--data', root, umask=umask)
    assert r.returncode == 0, r.stderr
    code = ("import sys, types, torch; from pathlib import Path\n"
            "from mlp_nbdev.data import fashion_mnist_tensors; from mlp_nbdev.concise import make_net\n"
            "from mlp_nbdev.loop import History\n"
            "from mlp_nbdev.checkpoint import save_checkpoint, MetricsLogger\n"
            "fashion_mnist_tensors(False, sys.argv[1]); run = Path(sys.argv[2]); run.mkdir()\n"
            "save_checkpoint(run/'model.pt', make_net('concise', 8), dict(model='concise', num_hiddens=8), 1)\n"
            "MetricsLogger(run).after_epoch(types.SimpleNamespace(history=History([dict(epoch=1, train_loss=0.5)])))")
    r = python(code, root, tmp_path/'run', umask=umask)
    assert r.returncode == 0, r.stderr
    fm = root/'FashionMNIST'
    written = [*(fm/'raw'/n for n in RAW), fm/'cache'/'test.pt', *(tmp_path/'run'/n for n in ('model.pt', 'metrics.csv', 'metrics.json'))]
    assert {str(p): mode(p) for p in written} == {str(p): files for p in written}
    assert {str(p): mode(p) for p in (fm, fm/'raw', fm/'cache')} == {str(p): folders for p in (fm, fm/'raw', fm/'cache')}

HOLD = ("import sys, time; from mlp_nbdev.files import claim_run_dir, lock_run_dir, RunDirError\n"
        "try: lock = (claim_run_dir if sys.argv[2] == 'new' else lock_run_dir)(sys.argv[1])\n"
        "except RunDirError as e: print('refused:', e, flush=True); sys.exit(2)\n"
        "print('holding', flush=True); time.sleep(float(sys.argv[3]))\n")

def test_one_run_per_folder(tmp_path):
    "While one process holds a run folder, another can neither start a new run in it nor continue it."
    out = tmp_path/'run'
    holder = subprocess.Popen([sys.executable, '-c', HOLD, str(out), 'new', '60'], stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert holder.stdout.readline() == 'holding\n'
        for how in ('new', 'resume'):
            r = python(HOLD, out, how, 0)
            assert r.returncode == 2 and f'{out} is in use by another run (process {holder.pid})' in r.stdout, r.stdout
    finally: holder.kill(); holder.wait()
    r = python(HOLD, out, 'resume', 0)                     # a killed holder leaves the folder free
    assert r.returncode == 0 and r.stdout == 'holding\n', (r.stdout, r.stderr)
    (out/'model.pt').write_bytes(b'x')
    r = python(HOLD, out, 'new', 0)
    assert r.returncode == 2 and f'{out} is not empty (it holds model.pt)' in r.stdout, r.stdout

def test_changed_checkpoint_refused_by_evaluate(tmp_path):
    "8 bytes overwritten in place in a checkpoint's weights: `evaluate` refuses it, one line, exit 1."
    p = tmp_path/'model.pt'
    code = ("import sys, torch; from mlp_nbdev.concise import make_net; from mlp_nbdev.checkpoint import save_checkpoint\n"
            "net = make_net('concise', 256); save_checkpoint(sys.argv[1], net, dict(model='concise', num_hiddens=256,"
            " recipe='seed', batch_size=256), 1)\n"
            "sys.stdout.buffer.write(net.state_dict()['1.weight'].numpy().tobytes()[:64])")
    r = subprocess.run([sys.executable, '-c', code, str(p)], capture_output=True, env=ENV, timeout=600)
    assert r.returncode == 0, r.stderr
    at = p.read_bytes().find(r.stdout)
    assert at > 0
    with open(p, 'r+b') as f: f.seek(at + 4096); f.write(b'\xff' * 8)
    r = cli('evaluate', p)
    assert r.returncode == 1 and 'Traceback' not in r.stderr, r.stderr
    assert r.stderr.strip() == (f"mlp-nbdev evaluate: error: {p} changed since it was written: its contents no longer "
                                "match the SHA-256 saved in it. Do not use it: train again, or pass another checkpoint.")

"""`mlp-nbdev tune` as users run it: worker processes sharing one study, one of them killed, on the default SQLite
file and on a throwaway PostgreSQL server (started here when PostgreSQL is installed); bad input."""
import glob, os, re, select, shutil, signal, socket, subprocess, sys, tempfile, time
from pathlib import Path
import pytest

optuna = pytest.importorskip('optuna', reason="the tune extra is not installed: pip install 'mlp_nbdev[tune]'")
from mlp_nbdev.tune import open_study, study_setup  # noqa: E402 (after the skip: it needs optuna)

EXE = Path(sys.executable).parent/'mlp-nbdev'
N, GRACE = 4, 3  # trials of a study; seconds without a heartbeat before a trial is stale (3 heartbeats of 1 s)
SMALL = ['--epochs', 1, '--hidden', 16, '--train-size', 1000, '--valid', 2000, '--heartbeat', 1, '--threads', 1]
ENV = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONUNBUFFERED': '1'}

def tune_cmd(*args): return [str(EXE), 'tune', *map(str, args)]

def run(cwd, *args): return subprocess.run(tune_cmd(*args), capture_output=True, text=True, timeout=600, cwd=cwd, env=ENV)
def start(cwd, *args): return subprocess.Popen(tune_cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                               text=True, cwd=cwd, env=ENV)

def wait_for_trial(p, timeout=300)->int:
    "The number of the first trial worker `p` starts (its 'trial N started' line)."
    end, seen = time.monotonic() + timeout, []
    while time.monotonic() < end:
        if not select.select([p.stdout], [], [], 1)[0]: continue
        line = p.stdout.readline()
        if not line: break
        seen.append(line)
        if m := re.match(r'trial (\d+) started', line): return int(m[1])
    p.kill(); raise AssertionError(f"no trial started: {''.join(seen)}{p.stderr.read()[-3000:]}")

def check_killed_worker(cwd, storage, study):
    "Two workers at once, one killed in its first trial, the other to the end, then one more worker; the study's trials."
    args = ['--study', study, '--trials', N, *SMALL] + ([] if storage is None else ['--storage', storage])
    a, b = start(cwd, *args), start(cwd, *args)
    killed = wait_for_trial(a)
    a.send_signal(signal.SIGKILL); a.wait()
    stale = time.monotonic() + GRACE + 1  # from then on the killed trial's heartbeat is stale
    out, err = b.communicate(timeout=600)
    assert b.returncode == 0, out + err
    time.sleep(max(0, stale - time.monotonic()))  # the other worker's trials took most of it already
    c = run(cwd, *args)
    assert c.returncode == 0, c.stdout + c.stderr
    url = storage or f"sqlite:///{cwd/'runs'/'tune.db'}"
    trials = optuna.load_study(study_name=study, storage=url).trials
    states = {t.number: t.state.name for t in trials}
    print(states, c.stdout, sep='\n')
    assert all(s in ('COMPLETE', 'PRUNED', 'FAIL') for s in states.values()), states  # every trial ended
    assert states[killed] == 'FAIL', (killed, states)
    retries = [t for t in trials if t.system_attrs.get('failed_trial') == killed]
    assert retries and retries[-1].state.name in ('COMPLETE', 'PRUNED'), (killed, states)
    assert trials[killed].params.items() <= retries[0].params.items()  # what it had drawn before it was killed
    assert sum(s in ('COMPLETE', 'PRUNED') for s in states.values()) == N, states
    others = [t for t in trials if t.state.name == 'FAIL' and t.number != killed]
    assert all('not_run' in t.user_attrs for t in others), [(t.number, t.user_attrs) for t in others]
    assert (cwd/'runs'/f'{study}-recipe.json').is_file() and 'best: trial' in c.stdout

def test_killed_worker_sqlite(tmp_path):
    check_killed_worker(tmp_path, None, 'sq')

def _free_port()->int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

@pytest.fixture(scope='module')
def pg_url():
    "A throwaway PostgreSQL server on 127.0.0.1 (initdb into a temporary folder, as the postgres user when root)."
    found = sorted(glob.glob('/usr/lib/postgresql/*/bin/initdb')) or [shutil.which('initdb')]
    if found[-1] is None:
        pytest.skip("PostgreSQL tests skipped: no PostgreSQL server here (no /usr/lib/postgresql/*/bin/initdb, no initdb "
                    "on PATH); .ci/run installs Debian's postgresql when run as root")
    pytest.importorskip('psycopg', reason="PostgreSQL tests skipped: no psycopg (pip install 'mlp_nbdev[tune]')")
    bin, root = Path(found[-1]).parent, os.geteuid() == 0
    d = Path(tempfile.mkdtemp(prefix='mlp-nbdev-pg-'))
    as_pg = ['runuser', '-u', 'postgres', '--'] if root else []  # initdb refuses to run as root
    if root: shutil.chown(d, 'postgres')
    port = _free_port()
    subprocess.run(as_pg + [bin/'initdb', '-D', d/'data', '-A', 'trust', '-U', 'postgres', '--no-sync'],
                   check=True, capture_output=True)
    opts = f'-p {port} -k {d} -c listen_addresses=127.0.0.1 -c fsync=off'
    subprocess.run(as_pg + [bin/'pg_ctl', '-D', d/'data', '-l', d/'log', '-w', '-o', opts, 'start'], check=True,
                   capture_output=True)
    print(f"PostgreSQL {bin.parent.name} started on 127.0.0.1:{port} in {d}")
    yield f'postgresql://postgres@127.0.0.1:{port}/postgres'
    subprocess.run(as_pg + [bin/'pg_ctl', '-D', d/'data', '-m', 'immediate', 'stop'], capture_output=True)
    shutil.rmtree(d, ignore_errors=True)

def test_killed_worker_postgresql(tmp_path, pg_url):
    check_killed_worker(tmp_path, pg_url, 'pg')

BAD = {  # case -> what the one line on stderr says
    'not a url': 'is not a database URL', 'unreachable': 'cannot open the database',
    'direction': "study 's' minimizes", 'space': 'was created with another space'}

@pytest.fixture(scope='module')
def bad_runs(tmp_path_factory):
    """Each bad-input case's worker, all started at once (each is a CLI start); case -> (process, folder, URL,
    the study's user attributes before, or `None` where there is no study)."""
    runs = {}
    for case in BAD:
        d = tmp_path_factory.mktemp(case.replace(' ', '_'))
        url = f"sqlite:///{d/'t.db'}"
        if case == 'direction': optuna.create_study(study_name='s', storage=url, direction='minimize')
        if case == 'space':
            open_study('s', url, study_setup(epochs=1, hidden=16, space={'lr': ('float', 0.1, 1.0, True)}))
        storage = {'not a url': 'not a url', 'unreachable': 'postgresql://u:secret@127.0.0.1:1/db'}.get(case, url)
        before = optuna.load_study(study_name='s', storage=url).user_attrs if storage == url else None
        runs[case] = start(d, '--study', 's', '--trials', 2, '--storage', storage, *SMALL), d, url, before
    yield runs
    for p, *_ in runs.values(): p.kill(); p.wait()

@pytest.mark.parametrize('case', list(BAD))
def test_bad_input(case, bad_runs):
    "One line, exit status 2, the study as it was."
    p, d, url, before = bad_runs[case]
    out, err = p.communicate(timeout=600)
    assert p.returncode == 2 and BAD[case] in err and 'secret' not in err, err
    assert len(err.strip().splitlines()) == 1 and 'Traceback' not in err, err
    if before is not None:
        s = optuna.load_study(study_name='s', storage=url)
        assert s.trials == [] and s.user_attrs == before, (s.trials, s.user_attrs)
    assert not (d/'runs').exists()

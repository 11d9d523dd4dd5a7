"""Each notebook in nbs/ as one pytest case, run once, by nbdev's own runner (`test_nb`, what `nbdev_test` calls)
with the flags of settings.ini. `pytest --nb nbs/X.ipynb` runs only the notebooks named; `make test` names them all."""
import warnings
from pathlib import Path
from nbdev.config import get_config
from nbdev.doclinks import nbglob
from nbdev.test import test_nb as run_nb  # renamed so pytest does not collect it

cfg = get_config()

def pytest_generate_tests(metafunc):
    "One case per notebook: those given with `--nb`, else every notebook `nbdev_test` would run."
    nbs = [Path(p).absolute() for p in metafunc.config.getoption('nb')] or sorted(nbglob(as_path=True))
    metafunc.parametrize('nb', nbs, ids=[p.name for p in nbs])

def test_notebook(nb, monkeypatch):
    monkeypatch.chdir(cfg.nbs_path)  # as nbdev_test does
    with warnings.catch_warnings(record=True) as seen:  # a warning class a notebook defines lives in its `__main__`,
        warnings.simplefilter('default')                # which pytest-xdist's controller cannot unpickle: report them here
        ok, secs = run_nb(nb, skip_flags=cfg.tst_flags.split(), basepath=cfg.config_path)
    for w in seen: print(f"{nb.name}: {w.category.__name__}: {w.message}")
    assert ok, f"{nb.name} failed (see the traceback above); run `nbdev_test --path {nb}` to reproduce"

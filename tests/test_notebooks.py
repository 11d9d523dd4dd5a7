"Each notebook in nbs/ as one pytest case, run by nbdev's own runner with the flags of settings.ini."
import os
from pathlib import Path
import pytest
from nbdev.config import get_config
from nbdev.test import test_nb as run_nb  # renamed so pytest does not collect it

cfg = get_config()
NBS = sorted(p for p in Path(cfg.nbs_path).glob('*.ipynb') if not p.name.startswith('_'))

@pytest.mark.parametrize('nb', NBS, ids=[p.name for p in NBS])
def test_notebook(nb, monkeypatch):
    monkeypatch.chdir(cfg.nbs_path)  # as nbdev_test does
    ok, secs = run_nb(nb.absolute(), skip_flags=cfg.tst_flags.split(), basepath=cfg.config_path)
    assert ok, f"{nb.name} failed (see the traceback above); run `nbdev_test --path {nb}` to reproduce"

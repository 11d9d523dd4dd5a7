"""What a pip user gets: the metadata setup.py writes from settings.ini (Requires-Python, classifiers, Requires-Dist,
version), the files the sdist ships, and the constraints file `make` installs from. Each build runs `setup.py` on a
copy of the packaging files in a temporary folder, so the checkout gets no build/ or egg-info."""
import re, shutil, subprocess, sys, tarfile
from configparser import ConfigParser
from email.parser import Parser
from pathlib import Path
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
CFG = ConfigParser(delimiters=['=']); CFG.read(ROOT/'settings.ini', encoding='utf-8'); CFG = CFG['DEFAULT']
PACKAGING = ['settings.ini', 'setup.py', 'pyproject.toml', 'MANIFEST.in', 'README.md', 'LICENSE', 'CHANGELOG.md',
             'constraints.txt', 'mlp_nbdev', 'tests']
WEB_STACK = {'python-fasthtml', 'uvicorn', 'starlette', 'websockets'}  # what fastprogress 1.1 brings

def setup_py(tmp_path, *args)->Path:
    "Run `setup.py *args` in a copy of the packaging files under `tmp_path`; the copy's folder."
    src = tmp_path/'src'
    src.mkdir()
    for name in PACKAGING:
        if (ROOT/name).is_dir(): shutil.copytree(ROOT/name, src/name, ignore=shutil.ignore_patterns('__pycache__'))
        else: shutil.copy2(ROOT/name, src/name)
    r = subprocess.run([sys.executable, 'setup.py', '-q', *args], cwd=src, capture_output=True, text=True)
    assert r.returncode == 0, f"setup.py {' '.join(args)}: exit {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
    return src

@pytest.fixture(scope='module')
def pkg_info(tmp_path_factory):
    "The PKG-INFO (core metadata, as a wheel's METADATA) that setup.py writes."
    tmp = tmp_path_factory.mktemp('egg')
    setup_py(tmp, 'egg_info', '-e', str(tmp))
    return Parser().parsestr((next(tmp.glob('*.egg-info'))/'PKG-INFO').read_text(encoding='utf-8'))

def runtime_requirements(meta)->dict:
    "Requires-Dist without an extra, by canonical name."
    reqs = [Requirement(r) for r in meta.get_all('Requires-Dist')]
    return {canonicalize_name(r.name): r for r in reqs if r.marker is None}

def test_version(pkg_info):
    import mlp_nbdev
    assert pkg_info['Version'] == CFG['version'] == mlp_nbdev.__version__, \
        (pkg_info['Version'], CFG['version'], mlp_nbdev.__version__, "run nbdev_export after changing settings.ini")
    top = re.search(r'^## (\S+)', (ROOT/'CHANGELOG.md').read_text(), re.M)
    assert top and top.group(1) == CFG['version'], (top and top.group(0), CFG['version'], "CHANGELOG.md's top entry")

def test_requires_python(pkg_info):
    "Requires-Python is settings.ini's min_python, at least 3.10 (fastcore>=1.12.3 needs it), and written only there."
    assert pkg_info['Requires-Python'] == f">={CFG['min_python']}", (pkg_info['Requires-Python'], CFG['min_python'])
    assert Version(CFG['min_python']) >= Version('3.10'), (CFG['min_python'], "fastcore>=1.12.3 needs Python 3.10")
    pyproject = (ROOT/'pyproject.toml').read_text()
    assert not re.search(r'^\s*requires-python\s*=', pyproject, re.M), "pyproject.toml: keep requires-python dynamic"
    prefix = 'Programming Language :: Python :: '
    versions = [c[len(prefix):] for c in pkg_info.get_all('Classifier') if c.startswith(prefix)]
    assert versions and versions[0] == CFG['min_python'], (versions, CFG['min_python'])

def test_status_classifier(pkg_info):
    "settings.ini's status is the number of the 'Development Status' classifier."
    status = [c for c in pkg_info.get_all('Classifier') if c.startswith('Development Status :: ')]
    assert len(status) == 1 and status[0].startswith(f"Development Status :: {CFG['status']} - "), \
        (status, CFG['status'])

def test_no_web_stack(pkg_info):
    "fastprogress is held below 1.1, whose python-fasthtml brings a web server stack; the linter is a dev extra."
    reqs = runtime_requirements(pkg_info)
    fp = reqs['fastprogress'].specifier
    assert fp.contains('1.0.5') and not fp.contains('1.1.6'), (str(fp), "fastprogress: 1.0.x, not 1.1")
    assert not WEB_STACK & set(reqs), sorted(WEB_STACK & set(reqs))
    dev = [Requirement(r) for r in pkg_info.get_all('Requires-Dist') if 'extra == "dev"' in r]
    assert 'ruff' in {r.name for r in dev}, [str(r) for r in dev]

def test_setup_py_rejects_a_bad_status(tmp_path):
    "A status that is no classifier number stops setup.py with one line that names it."
    src = setup_py(tmp_path, '--version')
    (src/'settings.ini').write_text(re.sub(r'(?m)^status = .*$', 'status = 0', (src/'settings.ini').read_text()))
    r = subprocess.run([sys.executable, 'setup.py', '--version'], cwd=src, capture_output=True, text=True)
    assert r.returncode != 0 and 'status must be a number from 1 to 7' in r.stderr, (r.returncode, r.stderr[-500:])

def test_sdist_ships_the_tests(tmp_path):
    "The sdist holds tests/ with conftest.py (pytest's --nb option), the changelog and the constraints."
    src = setup_py(tmp_path, 'sdist', '-d', str(tmp_path/'dist'))
    with tarfile.open(next((tmp_path/'dist').glob('*.tar.gz'))) as tar:
        names = {n.split('/', 1)[1] for n in tar.getnames() if '/' in n}
    want = {f"tests/{p.name}" for p in (src/'tests').glob('*.py')} | {'CHANGELOG.md', 'constraints.txt', 'settings.ini'}
    assert 'tests/conftest.py' in want and want <= names, sorted(want - names)
    assert not [n for n in names if '__pycache__' in n or n.endswith('.pyc')], sorted(names)

def constraints()->dict:
    "constraints.txt as {canonical name: version}; each line must be `name==version` (or a comment)."
    pins = {}
    for line in (ROOT/'constraints.txt').read_text().splitlines():
        if m := re.fullmatch(r'# python: *(\S+)', line): pins['# python'] = m.group(1)
        if not line.strip() or line.startswith('#'): continue
        m = re.fullmatch(r'([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)', line.strip())
        assert m, f"constraints.txt: {line!r} is not name==version"
        pins[canonicalize_name(m.group(1))] = m.group(2)
    return pins

def test_constraints_satisfy_settings():
    "Every requirement of settings.ini is pinned in constraints.txt at a version inside its range; no web stack."
    pins = constraints()
    python = pins.pop('# python', None)
    assert python and Version(python) >= Version(CFG['min_python']), (python, "need '# python: X.Y', X.Y >= min_python")
    assert 'mlp-nbdev' not in pins and 'pip' not in pins, "constraints.txt pins the package itself or pip"
    assert not WEB_STACK & set(pins), sorted(WEB_STACK & set(pins))
    reqs = [Requirement(r) for r in (CFG['requirements'] + ' ' + CFG['dev_requirements']).split()]
    pinned = {str(r): pins.get(canonicalize_name(r.name)) for r in reqs}
    bad = [f"{r} (pinned {pinned[str(r)]})" for r in reqs
           if pinned[str(r)] is None or not r.specifier.contains(pinned[str(r)], prereleases=True)]
    assert not bad, f"constraints.txt against settings.ini: {bad}"

needs_make = pytest.mark.skipif(not shutil.which('make'), reason='no make on PATH')

@needs_make
def test_venv_follows_constraints(tmp_path):
    "`make venv` installs with `-c constraints.txt`, and a changed constraints.txt redoes it."
    venv = tmp_path/'venv'; venv.mkdir()
    (venv/'.installed').touch()  # a venv newer than every file the stamp depends on
    def dry(*args):
        cmd = ['make', '-n', f'VENV={venv}', *args, 'venv']
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True).stdout
    assert 'pip install' not in dry(), dry()
    redo = dry('-W', 'constraints.txt')
    assert re.search(r'pip install .*-c constraints\.txt .*-e', redo), redo
    ranges = dry('-W', 'settings.ini', 'CONSTRAINTS=')
    assert re.search(r'pip install .*-e', ranges) and not re.search(r'pip install .*-c ', ranges), ranges  # the ranges

@needs_make
def test_venv_of_another_python_stops(tmp_path):
    "A venv whose Python is not constraints.txt's stops before pip with a line naming both and what to run."
    bin = tmp_path/'venv'/'bin'; bin.mkdir(parents=True)
    (bin/'python').write_text('#!/bin/sh\necho 2.7\n'); (bin/'python').chmod(0o755)  # Python 2.7, as make asks it
    r = subprocess.run(['make', f'VENV={tmp_path/"venv"}', 'venv'], cwd=ROOT, capture_output=True, text=True)
    said = ' '.join(r.stdout.split())
    want = constraints()['# python']
    assert r.returncode != 0 and f'Python {want}' in said and 'has Python 2.7' in said, \
        (r.returncode, r.stdout, r.stderr)
    assert f'make PYTHON=python{want}' in said and 'make CONSTRAINTS=' in said, \
        (r.returncode, r.stdout, r.stderr)
    assert not (tmp_path/'venv'/'.installed').exists()

HELPED = {'mlp_nbdev.train': 'train_ch3', 'mlp_nbdev.recipes': 'run_recipe', 'mlp_nbdev.data': 'load_data_fashion_mnist',
          'mlp_nbdev.loop': 'Learner'}

@pytest.mark.parametrize('module,name', HELPED.items())
def test_help_shows_the_parameters(module, name):
    "`help()` in a fresh interpreter lists every documented parameter with its comment, each written once in the source."
    import importlib
    from fastcore.docments import docments
    code = f"import pydoc, {module} as m; print(pydoc.render_doc(m.{name}, renderer=pydoc.plaintext))"
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    text = ' '.join(r.stdout.split())
    dm = {k: v for k, v in docments(getattr(importlib.import_module(module), name)).items() if v and k != 'return'}
    assert dm, f"{module}.{name} has no docments"
    missing = [k for k, v in dm.items() if f"{k}" not in text or ' '.join(v.split()) not in text]
    assert not missing, f"help({name}) lacks the parameters {missing}:\n{r.stdout[:3000]}"

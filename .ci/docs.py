#!/usr/bin/env python
"""The docs step of `make test`: nbdev builds README.md and the site, then the checks only this project has.

    .venv/bin/python .ci/docs.py [--screenshots DIR]   # quarto on PATH (`make check-docs` puts it there)

1. README.md is what `nbdev_readme` makes from nbs/index.ipynb (it is rewritten; a difference fails: commit it);
2. `nbdev_docs` builds _docs/;
3. every name in a module's `__all__` is on its chapter's page in _docs/: a function or class with its show_doc
   entry, and a docment (the comment after a parameter, which show_doc prints beside it) for each named parameter;
4. no notebook has an error output saved, and no page shows one;
5. maths: every page with maths, opened in headless Chromium with no network, holds typeset maths (<math>
   elements) and no raw TeX (`$...$`, `\\(`, `\\[`). With no Chromium it names the pages it could not open.
"""
import argparse, difflib, importlib, inspect, json, os, re, shutil, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.chdir(ROOT)  # nbdev finds settings.ini from the working directory
from nbdev.config import get_config
from nbdev.doclinks import nbglob
from fastcore.docments import docments

CFG = get_config()
DOCS, LIB, README = Path(CFG.doc_path), Path(CFG.lib_path), Path(CFG.config_path)/'README.md'
BIN = Path(sys.executable).parent
BROWSERS = ('chromium', 'chromium-browser', 'google-chrome')
OFFLINE = ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--proxy-server=127.0.0.1:9',
           '--host-resolver-rules=MAP * ~NOTFOUND', '--virtual-time-budget=5000']  # no request can leave the machine

def sh(*cmd):
    "Run one of nbdev's commands from this venv; stop with its exit status if it fails."
    r = subprocess.run([str(BIN/cmd[0]), *cmd[1:]])
    if r.returncode: sys.exit(f"FAIL docs: `{' '.join(cmd)}` exited with {r.returncode} (its output is above)")

def readme_problems(before):
    "README.md as committed (`before`) against what nbdev_readme has just written."
    after = README.read_text()
    if after == before: return []
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), 'README.md (as it was)', 'README.md (nbdev_readme)', n=0, lineterm='')
    return ["README.md was not what nbdev_readme makes from nbs/index.ipynb; it is now: commit it (edit nbs/index.ipynb, "
            "never README.md)\n      " + '\n      '.join(list(diff)[:12])]

def page_name(nb):
    "The page nbdev makes of notebook `nb` (03_activations.ipynb -> activations.html)."
    return re.sub(r'^\d+[a-zA-Z0-9]*_', '', Path(nb).stem.lower()) + '.html'

def defining_notebook(mod, name):
    "The notebook whose exported cell defines `name` at the top of `mod` (nbdev's `# %% ../nbs/X.ipynb` markers)."
    nb = None
    for line in Path(mod.__file__).read_text().splitlines():
        if m := re.match(r'# %% \S*?([^/\s]+\.ipynb)', line): nb = m.group(1)
        elif re.match(rf'((async\s+)?def|class)\s+{name}\b|([\w\s]+,\s*)?{name}\s*(,[\w\s,]*)?(:[^=]*)?=', line): return nb

def headings(html): return {re.sub(r'<[^>]+>', '', h).strip() for h in re.findall(r'<h[1-6][^>]*>(.*?)</h[1-6]>', html, re.S)}

def name_problems():
    "Every name in `__all__` on its page (show_doc heading for functions and classes), with a docment per parameter."
    probs = []
    for py in sorted(LIB.glob('[!_]*.py')):
        try: mod = importlib.import_module(f'{CFG.lib_name}.{py.stem}')
        except Exception as e: probs.append(f"{py} does not import: {type(e).__name__}: {e}"); continue
        for name in getattr(mod, '__all__', []):
            o = getattr(mod, name, None)
            home = inspect.getmodule(o) if inspect.isfunction(o) or inspect.isclass(o) else None
            nb = (home and home.__name__.startswith(CFG.lib_name + '.') and defining_notebook(home, name)) or defining_notebook(mod, name)
            page = DOCS/page_name(nb or '?')
            if nb is None: probs.append(f"{py}: `{name}` is in __all__ but no exported cell defines it"); continue
            if not page.exists(): probs.append(f"nbs/{nb}: no page {page} for `{name}`"); continue
            html, where = page.read_text(), f"nbs/{nb}: `{name}` ({py.stem}.{name})"
            if inspect.isfunction(o) or inspect.isclass(o):
                if name not in headings(html):
                    probs.append(f"{where} has no show_doc entry on {page}; export it in a plain `#| export` cell or add `show_doc({name})`")
                try: sig, dm = inspect.signature(o), docments(o, full=True)
                except (TypeError, ValueError): continue
                miss = [k for k, p in sig.parameters.items() if k != 'self' and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
                        and not (dm.get(k) or {}).get('docment')]
                if miss: probs.append(f"{where} has parameters with no docment: {', '.join(miss)}; add a comment after each "
                                      f"(`{miss[0]}:type=..., # what it is`)")
            elif not re.search(rf'(?<![\w.]){re.escape(name)}(?!\w)', re.sub(r'<[^>]+>', '', html)):
                probs.append(f"{where} is exported but never shown on {page}; mention it or use it in a visible cell")
    return probs

def error_problems(nbs):
    "Error outputs saved in the notebooks, and on the pages."
    probs = [f"nbs/{nb.name} cell {i} has an error output ({o.get('ename')}: {o.get('evalue')}); fix it, re-run, commit"
             for nb in nbs for i, c in enumerate(json.loads(nb.read_text())['cells'])
             for o in c.get('outputs', []) if o.get('output_type') == 'error']
    return probs + [f"{p} shows an error output" for p in sorted(DOCS.glob('*.html')) if 'cell-output-error' in p.read_text()]

TEX = re.compile(r'\$[^$\s][^$]*\$|\\\(|\\\[')  # TeX a reader would see raw: $...$, \( ... \), \[ ... \]

class Visible(HTMLParser):
    "The text a reader sees outside code (and outside <math>, whose TeX annotation is not shown); <math> count."
    SKIP = {'code', 'pre', 'script', 'style', 'math', 'textarea'}
    def __init__(self, html):
        super().__init__(); self.depth, self.parts, self.maths = 0, [], 0
        self.feed(html); self.text = ' '.join(self.parts)
    def handle_starttag(self, tag, attrs):
        self.maths += tag == 'math'; self.depth += tag in self.SKIP
    def handle_endtag(self, tag): self.depth -= tag in self.SKIP and self.depth > 0
    def handle_data(self, d):
        if not self.depth: self.parts.append(d)

def offline_dom(exe, page, png=None):
    "The DOM of `page` as headless Chromium leaves it with no network; a screenshot to `png` too if given."
    with tempfile.TemporaryDirectory() as prof:
        args = [exe, *OFFLINE, f'--user-data-dir={prof}', page.resolve().as_uri()]
        if png: subprocess.run(args[:-1] + ['--window-size=1280,1800', f'--screenshot={png}', args[-1]], capture_output=True, timeout=120)
        return subprocess.run(args[:-1] + ['--dump-dom', args[-1]], capture_output=True, text=True, timeout=120).stdout

def maths_problems(shots=None):
    "Pages with maths (typeset or raw in the HTML quarto wrote), as a browser with no network shows them."
    pages = [p for p in sorted(DOCS.glob('*.html')) if (v := Visible(p.read_text())).maths or TEX.search(v.text)]
    exe = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if exe is None:
        print(f"SKIPPED the browser check of maths: no Chromium on PATH ({', '.join(BROWSERS)}; Debian: apt-get install "
              f"chromium). Not opened offline: {', '.join(p.name for p in pages)}. Checked the HTML only.")
    if shots: Path(shots).mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(2) as ex:
        doms = list(ex.map(lambda p: offline_dom(exe, p, shots and Path(shots).resolve()/f'{p.stem}.png') if exe else p.read_text(), pages))
    probs, seen = [], []
    for p, dom in zip(pages, doms):
        v = Visible(dom)
        if not v.maths: probs.append(f"{p}: no typeset maths (<math>) in the page{' as Chromium shows it with no network' if exe else ''}")
        if m := TEX.search(v.text):
            probs.append(f"{p}: raw TeX a reader sees{' in Chromium with no network' if exe else ''}: "
                         f"{v.text[max(0, m.start()-40):m.end()+40].strip()!r} (maths goes in $...$ or $$...$$ in markdown; "
                         f"nbs/_quarto.yml's html-math-method: mathml typesets it with no script)")
        seen.append(f"{p.name} ({v.maths} <math>)")
    if exe: print(f"maths offline in {Path(exe).name}: {', '.join(seen) or 'no page has maths'}")
    return probs

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--screenshots', metavar='DIR', help='also save a PNG of each page with maths, as Chromium shows it offline')
    args, t0 = ap.parse_args(), time.perf_counter()
    if not shutil.which('quarto'):
        sys.exit("FAIL docs: quarto is not on PATH: get it from https://quarto.org/docs/get-started/ or with "
                 ".venv/bin/nbdev_install_quarto (make puts ../shared/quarto's on PATH when it is there)")
    before = README.read_text() if README.exists() else ''
    sh('nbdev_readme')
    sh('nbdev_docs')
    t1 = time.perf_counter()
    nbs = sorted(nbglob(as_path=True))
    probs = readme_problems(before) + name_problems() + error_problems(nbs) + maths_problems(args.screenshots)
    secs = f"build {t1-t0:.0f} s, checks {time.perf_counter()-t1:.0f} s"
    if probs:
        print(f"FAIL docs: {len(probs)} problem(s) ({secs})", *(f"  - {p}" for p in probs), sep='\n', file=sys.stderr)
        sys.exit(1)
    print(f"docs OK: {len(nbs)} notebooks -> {DOCS}/, README.md as nbdev_readme makes it, every exported name on its "
          f"page with docments, no error outputs, maths typeset offline ({secs})")

if __name__ == '__main__': main()

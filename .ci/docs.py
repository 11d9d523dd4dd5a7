#!/usr/bin/env python
"""The docs step of `make test`: nbdev builds README.md and the site, then the checks only this project has.

    .venv/bin/python .ci/docs.py [--screenshots DIR] [--no-build]   # quarto on PATH (`make check-docs` puts it there)
    .venv/bin/python .ci/docs_selftest.py   # each check shown failing on a planted defect

1. README.md is what `nbdev_readme` makes from nbs/index.ipynb (it is rewritten; a difference fails: commit it);
2. `nbdev_docs` builds _docs/;
3. every name in a module's `__all__` is on its chapter's page in _docs/: a function or class with its show_doc
   entry, and a docment (the comment after a parameter, which show_doc prints beside it) for each named parameter;
4. no notebook has an error output saved, and no page shows one;
5. the notebooks: code lines at most 100 characters (`#| ` directives aside), and no progress-bar leftovers in the
   saved outputs (fastprogress leaves an empty HTML output and a `<style>` per epoch; pages with them ask a CDN
   for require.js);
6. README.md, as GitHub and PyPI show it: no `<style>` or `<script>`, links and images absolute URLs
   (.ci/postrender.py --readme makes them so after nbdev_readme);
7. the links: every link inside the site resolves to a page and an anchor that exist, and none points at the
   site's own URL (doc_host) instead of a relative path; the site has a favicon;
8. the pages in headless Chromium (Playwright), served from _docs/ on 127.0.0.1 with every other host refused, at
   1280 and 390 px wide: no request to another host, no console error, no markdown link `[..](..)` in the text
   or code a reader sees, every image with alt text, no code block or table wider than its column at 1280 px, no
   page wider than the screen at 390 px; maths typeset (<math> elements) with no raw TeX (`$...$`, `\\(`, `\\[`).
   With no Chromium it says so and checks the HTML only.
Every problem is listed with its page, element and value; the step fails if there is any.
"""
import argparse, difflib, importlib, inspect, json, os, re, shutil, subprocess, sys, time
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.chdir(ROOT)  # nbdev finds settings.ini from the working directory
from nbdev.config import get_config
from nbdev.doclinks import nbglob
from fastcore.docments import docments
from postrender import bar_leftover  # what the check refuses is what `--strip-bars` drops

CFG = get_config()
DOCS, LIB, README = Path(CFG.doc_path), Path(CFG.lib_path), Path(CFG.config_path)/'README.md'
BIN = Path(sys.executable).parent
BROWSERS = ('chromium', 'chromium-browser', 'google-chrome')

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

MAX_LINE = 100  # characters in a notebook's code line: what fits a code block in the body column at 1280 px

def notebook_problems(nbs):
    "Code lines over MAX_LINE characters and progress-bar leftovers, in the notebooks as committed."
    probs = []
    for nb in nbs:
        long, bars = [], []
        for i, c in enumerate(json.loads(nb.read_text())['cells']):
            if c['cell_type'] != 'code': continue
            for j, l in enumerate(''.join(c['source']).splitlines(), 1):
                if len(l) > MAX_LINE and not l.lstrip().startswith('#|'): long.append(f"cell {c.get('id', i)} line {j}: {len(l)}")
            if any(map(bar_leftover, c.get('outputs', []))): bars.append(str(c.get('id', i)))
        if long: probs.append(f"nbs/{nb.name}: {len(long)} code line(s) over {MAX_LINE} characters (wrap them; "
                              f"`ruff check --select E501 --line-length {MAX_LINE} nbs/{nb.name}` lists them): "
                              + ', '.join(long[:6]) + (' ...' if len(long) > 6 else ''))
        if bars: probs.append(f"nbs/{nb.name}: progress-bar leftovers (an empty HTML output or fastprogress's <style>) in "
                              f"cell(s) {', '.join(sorted(set(bars)))}: the page would load require.js from a CDN; "
                              f"drop them with `python .ci/postrender.py --strip-bars nbs/{nb.name}`")
    return probs

def import_cell_problems(nbs):
    """Cells that nbdev's docs would fail to run: nbdev runs every cell with an import on its own, with none of the
    cells before it, so a name such a cell uses from an earlier cell is a NameError there that stops the build."""
    import ast, builtins
    probs = []
    for nb in nbs:
        for i, c in enumerate(json.loads(nb.read_text())['cells']):
            src = ''.join(c['source']) if c['cell_type'] == 'code' else ''
            if (not src or 'nbdev_export()' in src
                    or re.search(r'^#\|\s*(export|exports|exporti|exec_doc)\b|^#\|\s*eval:\s*false', src, re.M)):
                continue
            try: tree = ast.parse('\n'.join(l for l in src.splitlines() if not l.startswith(('%', '!'))))
            except SyntaxError: continue
            if not any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(tree)): continue
            bound, used = set(dir(builtins)), []
            for st in tree.body:  # what runs when the cell runs: not the bodies of the functions it defines
                run = ([*st.decorator_list, *getattr(st.args, 'defaults', []), *getattr(st, 'bases', [])]
                       if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else [st])
                used += [n.id for r in run for n in ast.walk(r) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
                         and n.id not in bound]
                bound |= {n.id for n in ast.walk(st) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
                bound |= {(a.asname or a.name).split('.')[0] for a in getattr(st, 'names', [])
                          if isinstance(st, (ast.Import, ast.ImportFrom))}
                if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): bound.add(st.name)
            if (missing := sorted(set(used) - bound)) and not any(isinstance(st, ast.ImportFrom) and
                                                                 any(a.name == '*' for a in st.names) for st in tree.body):
                probs.append(f"nbs/{nb.name}: cell {c.get('id', i)} imports and uses {', '.join(missing)} from earlier "
                             f"cells: nbdev's docs run it alone and it fails there; move the import into an import cell")
    return probs

def readme_shape_problems():
    "README.md as GitHub and PyPI show it: no <style>/<script>; links and images absolute URLs."
    text, probs = README.read_text(), []
    if m := re.search(r'<(style|script)\b', text, re.I):
        probs.append(f"README.md line {text[:m.start()].count(chr(10))+1} has a <{m[1]}> block: GitHub and PyPI show it as "
                     f"text (a notebook's HTML output in nbs/index.ipynb; `make readme` removes it)")
    rel = [u for u in re.findall(r'!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)', text) + re.findall(r'<img\b[^>]*\bsrc="([^"]+)"', text)
           if not re.match(r'^([a-z][a-z0-9+.-]*:|//)', u, re.I)]
    if rel: probs.append(f"README.md has {len(rel)} relative link(s) or image(s), broken on PyPI (and chapter links on "
                         f"GitHub): {', '.join(rel[:5])}; `make readme` makes them absolute (.ci/postrender.py --readme)")
    return probs

class Links(HTMLParser):
    "A page's ids, its <a href>s and <img>s, and its favicon link."
    def __init__(self, html):
        super().__init__(); self.ids, self.hrefs, self.icon = set(), [], None
        self.feed(html)
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get('id'): self.ids.add(a['id'])
        if tag == 'a' and a.get('href') is not None: self.hrefs.append(a['href'])
        if tag == 'link' and 'icon' in (a.get('rel') or '').split(): self.icon = a.get('href')

def link_problems():
    "Every link inside the site resolves (page and anchor); none at the site's own URL; a favicon on every page."
    site = CFG.doc_host.rstrip('/') + '/' + CFG.doc_baseurl.strip('/') + '/'
    pages = {p.name: Links(p.read_text()) for p in sorted(DOCS.glob('*.html'))}
    probs, absolute, no_icon = [], {}, []
    for name, pg in pages.items():
        if not pg.icon or not (DOCS/pg.icon.split('?')[0]).exists(): no_icon.append(name)
        for h in pg.hrefs:
            if h.startswith(site) or h == site.rstrip('/'): absolute[name] = absolute.get(name, 0) + 1; continue
            if re.match(r'^([a-z][a-z0-9+.-]*:|//)', h, re.I) or h in ('', '#'): continue
            path, _, frag = h.partition('#')
            target = (DOCS/path).resolve() if path else DOCS/name
            if path and not target.exists(): probs.append(f"{name}: link to {h}: no file {path} in {DOCS}/"); continue
            if frag and target.suffix == '.html':
                ids = pages[target.name].ids if target.name in pages else Links(target.read_text()).ids
                if frag not in ids: probs.append(f"{name}: link to {h}: {target.name} has no id {frag!r}")
    probs += [f"{n}: {k} link(s) to the site's own URL {site} (absolute): the site works only there; nbs/_quarto.yml's "
              f"post-render step (.ci/postrender.py) makes them relative" for n, k in absolute.items()]
    if no_icon: probs.append(f"no favicon (<link rel=icon> to a file in {DOCS}/) on: {', '.join(no_icon)}")
    return probs

TEX = re.compile(r'\$[^$\s][^$]*\$|\\\(|\\\[')  # TeX a reader would see raw: $...$, \( ... \), \[ ... \]
MD_LINK = re.compile(r'\[[^\[\]\n]{1,200}\]\((?:https?://|\.{0,2}/?[\w.-]+\.(?:html|ipynb|md)\b|#)[^)\s]*\)')
WIDTHS = (1280, 390)
# run in each page: what overflows, images without alt text, the text a reader sees
PROBE = r"""() => {
  const SHRINK = 1.4;
  const out = {overflow: [], wide: [], noalt: [], page: document.documentElement.scrollWidth, view: window.innerWidth};
  const main = document.querySelector('main') || document.body;
  const what = e => (e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' "' +
                     (e.innerText || '').trim().split('\n')[0].slice(0, 60) + '"');
  const clipped = e => { for (let a = e.parentElement; a && a !== document.body; a = a.parentElement)
                           if (getComputedStyle(a).overflowX !== 'visible') return true; return false; };
  const right = main.getBoundingClientRect().right;
  // a code block (the div quarto wraps it in, or a bare pre), a table: scrolls sideways, or sticks out of the column
  for (const e of main.querySelectorAll('div.sourceCode, pre, table')) {
    if (e.tagName === 'PRE' && e.closest('div.sourceCode')) continue;
    if (e.closest('.callout-collapse:not(.show), .collapse:not(.show)')) continue;  // a closed callout: not drawn
    const r = e.getBoundingClientRect(), inner = e.tagName === 'DIV' ? e.querySelector('pre') : null;
    const need = Math.max(e.scrollWidth, inner ? inner.scrollWidth + (e.clientWidth - inner.clientWidth) : 0);
    if (need > e.clientWidth + 1 || r.right > right + 1)
      out.overflow.push(what(e) + ': ' + Math.max(need, Math.round(r.width)) + ' px in a ' +
                        Math.round(Math.min(e.clientWidth, right - r.left)) + ' px column');
  }
  if (out.page > out.view + 1) {  // the elements that stick out of the screen, not inside a scroll box
    for (const e of document.body.querySelectorAll('*')) {
      const r = e.getBoundingClientRect();
      if (r.right > out.view + 1 && r.width > 0 && !clipped(e) &&
          !(e.parentElement && e.parentElement.getBoundingClientRect().right > out.view + 1))
        out.wide.push(what(e) + ': right edge at ' + Math.round(r.right) + ' px');
    }
  }
  for (const i of document.querySelectorAll('img'))
    if (!(i.getAttribute('alt') || '').trim()) out.noalt.push(i.getAttribute('src'));
  out.shrunk = [];  // a figure drawn much wider than it is shown: its text shrinks with it
  for (const i of main.querySelectorAll('img')) {
    const shown = i.getBoundingClientRect().width;
    if (shown > 0 && i.naturalWidth > SHRINK * shown)
      out.shrunk.push(i.getAttribute('src') + ': drawn ' + i.naturalWidth + ' px wide, shown at ' + Math.round(shown));
  }
  out.text = document.body.innerText;
  const prose = document.body.cloneNode(true);  // the text outside code and maths, for raw TeX
  for (const e of prose.querySelectorAll('code, pre, script, style, math, textarea')) e.remove();
  out.prose = prose.textContent; out.maths = document.querySelectorAll('math').length;
  return out;
}"""

SEARCH_TEX = re.compile(r'\\(?:frac|mathbf|mathrm|operatorname|begin|sqrt|sum|partial|top|qquad|left|right)\b')

def search_problems():
    "The search index holds what readers read: no TeX source of the formulas (search results show it as text)."
    idx = DOCS/'search.json'
    if not idx.exists(): return [f"{idx} is missing: the site has no search"]
    return [f"search.json, {e.get('href')}: raw TeX in a search result: {m.group(0)!r} in "
            f"{e['text'][max(0, m.start() - 40):m.end() + 40]!r}"
            for e in json.loads(idx.read_text(encoding='utf-8')) if (m := SEARCH_TEX.search(e.get('text', '')))]

def browser_problems(shots=None):
    "The pages in headless Chromium, served from DOCS on 127.0.0.1, every other host refused, at WIDTHS."
    import functools, http.server, threading
    pages = sorted(p.name for p in DOCS.glob('*.html'))
    exe = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    try: from playwright.sync_api import sync_playwright
    except ImportError: return ["the browser checks need Playwright (a dev extra): .venv/bin/pip install playwright"]
    if exe is None:
        print(f"SKIPPED the browser checks: no Chromium on PATH ({', '.join(BROWSERS)}; Debian: apt-get install chromium). "
              f"Checked the HTML only: maths and raw TeX.")
        return [f"{p}: raw TeX a reader sees: {m[0]!r}" for p in pages if (m := TEX.search(Visible((DOCS/p).read_text()).text))]
    handler = functools.partial(type('Quiet', (http.server.SimpleHTTPRequestHandler,), {'log_message': lambda *a: None}),
                                directory=str(DOCS.resolve()))
    # quiet: a page left while it still loads breaks a pipe, which is no problem of the site
    srv = type('Server', (http.server.ThreadingHTTPServer,), {'handle_error': lambda *a: None})(('127.0.0.1', 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f'http://127.0.0.1:{srv.server_port}/'
    probs, seen = [], []
    if shots: Path(shots).mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=exe, args=['--no-sandbox'])
            for w in WIDTHS:
                ctx = browser.new_context(viewport={'width': w, 'height': 900 if w > 500 else 844})
                ctx.route('**/*', lambda route: route.continue_() if route.request.url.startswith(base) else route.abort())
                page, away, errors = ctx.new_page(), [], []
                page.on('request', lambda r: away.append(r.url) if not r.url.startswith((base, 'data:')) else None)
                page.on('console', lambda m: errors.append(m.text) if m.type == 'error' else None)
                page.on('pageerror', lambda e: errors.append(str(e)))
                for name in pages:
                    away.clear(); errors.clear()
                    page.goto(base + name, wait_until='load')
                    r = page.evaluate(PROBE)
                    where = f"{name} at {w} px"
                    if w == WIDTHS[0]:
                        probs += [f"{name}: request to another host: {u}" for u in dict.fromkeys(away)]
                        probs += [f"{name}: console error: {e[:200]}" for e in dict.fromkeys(errors)]
                        probs += [f"{name}: markdown link shown as text: {m[0][:120]!r}" for m in MD_LINK.finditer(r['text'])]
                        probs += [f"{name}: image without alt text: {s}" for s in r['noalt']]
                        probs += [f"{where}: wider than its column: {o}" for o in r['overflow']]
                        probs += [f"{where}: {o}, its text shrunk: draw it narrower or give its cell "
                                  f"`#| column: page`" for o in r['shrunk']]
                        if m := TEX.search(r['prose']):
                            probs.append(f"{name}: raw TeX a reader sees: {r['prose'][max(0, m.start()-40):m.end()+40].strip()!r} "
                                         f"(maths goes in $...$ or $$...$$ in markdown; html-math-method: mathml typesets it)")
                        if r['maths']: seen.append(f"{name} ({r['maths']})")
                    elif r['page'] > r['view'] + 1:
                        probs.append(f"{where}: the page is {r['page']} px wide, wider than the screen; widest: "
                                     + '; '.join(r['wide'][:3]))
                    if shots: page.screenshot(path=str(Path(shots)/f"{name[:-5]}-{w}.png"), full_page=True)
                ctx.close()
            browser.close()
    finally: srv.shutdown()
    print(f"browser: {len(pages)} pages at {' and '.join(map(str, WIDTHS))} px in {Path(exe).name}; maths typeset on "
          f"{', '.join(seen) or 'no page'}")
    return probs

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--screenshots', metavar='DIR', help='also save a PNG of every page at each width, as Chromium shows it')
    ap.add_argument('--no-build', action='store_true', help='check README.md and _docs/ as they are (no nbdev_readme, nbdev_docs)')
    args, t0 = ap.parse_args(), time.perf_counter()
    if not shutil.which('quarto'):
        sys.exit("FAIL docs: quarto is not on PATH: get it from https://quarto.org/docs/get-started/ or with "
                 ".venv/bin/nbdev_install_quarto (make puts ../shared/quarto's on PATH when it is there)")
    before = README.read_text() if README.exists() else ''
    nbs = sorted(nbglob(as_path=True))
    if early := import_cell_problems(nbs):
        sys.exit('\n'.join(["FAIL docs: the build would stop here:", *(f"  - {p}" for p in early)]))
    if not args.no_build:
        sh('nbdev_readme')
        sh('nbdev_docs')
        post = subprocess.run([sys.executable, str(ROOT/'.ci/postrender.py'), '--readme', str(README)])
        if post.returncode: sys.exit(f"FAIL docs: .ci/postrender.py --readme exited with {post.returncode}")
    t1 = time.perf_counter()
    probs = (readme_problems(before) + readme_shape_problems() + name_problems() + error_problems(nbs)
             + notebook_problems(nbs) + link_problems() + search_problems() + browser_problems(args.screenshots))
    secs = f"build {t1-t0:.0f} s, checks {time.perf_counter()-t1:.0f} s"
    if probs:
        print(f"FAIL docs: {len(probs)} problem(s) ({secs})", *(f"  - {p}" for p in probs), sep='\n', file=sys.stderr)
        sys.exit(1)
    print(f"docs OK: {len(nbs)} notebooks -> {DOCS}/, README.md as nbdev_readme makes it, every exported name on its "
          f"page with docments, no error outputs, short code lines, README's links absolute, the site's links resolve, "
          f"offline in Chromium at {' and '.join(map(str, WIDTHS))} px with nothing too wide ({secs})")

if __name__ == '__main__': main()

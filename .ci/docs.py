#!/usr/bin/env python
"""The docs without quarto. Run with the project's venv, from anywhere:

    .venv/bin/python .ci/docs.py readme   # README.md from nbs/index.ipynb (what `nbdev_readme` makes with quarto)
    .venv/bin/python .ci/docs.py html     # _docs/: every page as nbconvert HTML, chapters in sidebar order
    .venv/bin/python .ci/docs.py check    # the docs check of `make test`; exits 1 naming each notebook/symbol at fault
    .venv/bin/python .ci/docs.py exec     # run every chapter in a real Jupyter kernel (a temp copy; nbs/ is not touched)

Pages are made the way nbdev makes them: each notebook goes through nbdev's own processors (`FilterDefaults`,
which is what `nbdev_proc_nbs` runs; its CLI would try to install quarto first, so this calls the processors
directly) into `_proc/`, then nbconvert renders the processed notebook in place of quarto.
"""
import argparse, ast, difflib, html, json, os, re, shutil, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.chdir(ROOT)  # nbdev finds settings.ini from the working directory; spawned workers inherit it

import nbformat, yaml
from nbdev.config import get_config

CFG = get_config()
NBS, LIB, DOCS = Path(CFG.nbs_path), Path(CFG.lib_path), Path(CFG.doc_path)
PROC = Path(CFG.config_path)/'_proc'
README = Path(CFG.config_path)/'README.md'
SIDEBAR = NBS/'sidebar.yml'
SITE_URL = CFG.doc_host.rstrip('/') + '/' + (CFG.doc_baseurl.strip('/') + '/' if CFG.doc_baseurl.strip('/') else '')
TST_FLAGS = set(CFG.get('tst_flags', '').split())

def rel(p): return str(Path(p).resolve().relative_to(ROOT))

# ---------------------------------------------------------------------------------------------------------------
# Notebooks and the sidebar

def notebooks():
    "The notebooks that become pages, as `nbdev_test` and tests/test_notebooks.py see them (a leading `_` or `.` is left out)."
    return sorted(p for p in NBS.glob('*.ipynb') if not p.name.startswith(('_', '.')))

def _flatten(contents):
    "File names in a quarto sidebar `contents` list (plain entries, `href:` entries, `section:` entries with `contents:`)."
    for o in contents or []:
        if isinstance(o, str): yield o
        elif isinstance(o, dict):
            if 'href' in o: yield o['href']
            yield from _flatten(o.get('contents'))

def sidebar_entries():
    "The files listed in nbs/sidebar.yml (`website: sidebar: contents:`), in order."
    if not SIDEBAR.exists(): return None
    d = yaml.safe_load(SIDEBAR.read_text()) or {}
    contents = (((d.get('website') or {}).get('sidebar') or {}).get('contents')) or []
    return list(_flatten(contents))

def sidebar_problems():
    "What is wrong between nbs/sidebar.yml and the notebooks in nbs/, one message each."
    entries, names = sidebar_entries(), [p.name for p in notebooks()]
    if entries is None: return [f"{rel(SIDEBAR)} is missing: list the notebooks in reading order under `website: sidebar: contents:`"]
    probs = [f"nbs/{n} is not in {rel(SIDEBAR)}: add `- {n}` under `website: sidebar: contents:` at its place in the reading order"
             for n in names if n not in entries]
    probs += [f"{rel(SIDEBAR)} lists {e}, which is not in nbs/: remove it or add the notebook" for e in entries
              if e.endswith('.ipynb') and not (NBS/e).exists()]
    probs += [f"{rel(SIDEBAR)} lists {e} more than once" for e in sorted({e for e in entries if entries.count(e) > 1})]
    return probs

def reading_order():
    "Notebooks in sidebar order, then any the sidebar misses (sorted), so a build never drops a page."
    nbs = {p.name: p for p in notebooks()}
    order = [nbs[e] for e in (sidebar_entries() or []) if e in nbs]
    return order + [p for n, p in nbs.items() if p not in order]

# ---------------------------------------------------------------------------------------------------------------
# nbdev's processing: notebook -> _proc/notebook, in worker processes (show_doc and exported cells run there)

def _proc_worker(src):
    "Process `src` into _proc/ with nbdev's processors; return (name, seconds, error or None, warnings)."
    import warnings
    from nbdev.serve_drv import main
    from nbdev.processors import FilterDefaults
    t = time.perf_counter()
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter('always')
        try:
            import matplotlib; matplotlib.use('Agg')
            main((Path(src), PROC/Path(src).name, FilterDefaults))
            err = None
        except BaseException as e:
            err = f"{type(e).__name__}: {e}"
            if e.__cause__ is not None: err += f"\n  caused by {type(e.__cause__).__name__}: {e.__cause__}"
    return [Path(src).name, time.perf_counter() - t, err, [str(w.message) for w in ws if 'imports and other code' in str(w.message)]]

def mixed_import_cells(p):
    """Cells of `p` that nbdev's docs build runs because they import, though they also do other work: nbdev runs them
    with none of the cells before them (so they break) and whatever their flags (`#| slow` too). One message each."""
    from nbdev.process import NBProcessor
    from nbdev.processors import _ast_contains, cell_lang
    probs = []
    for c in NBProcessor(p).nb.cells:
        if c.cell_type != 'code' or not c.source or cell_lang(c) != 'python' or 'nbdev_export'+'()' in c.source: continue
        d = getattr(c, 'directives_', {}) or {}
        if d.get('eval:', [''])[0].lower() == 'false' or d.keys() & {'export', 'exports', 'exporti', 'exec_doc'}: continue
        try: trees = c.parsed_()
        except SyntaxError: continue
        if trees and _ast_contains(trees, (ast.Import, ast.ImportFrom)) and _ast_contains(trees, (ast.Expr, ast.Assign)):
            imps = [l.strip() for l in c.source.splitlines() if re.match(r'\s*(import|from)\s', l)]
            probs.append(f"nbs/{p.name} cell {c.idx_} mixes imports with other code ({'; '.join(imps)[:120]}): the docs "
                         f"build (nbdev_proc_nbs) runs every importing cell on its own, flags like `#| slow` ignored, so it "
                         f"breaks or does the cell's work. Move the imports to a cell of their own (an import-only cell "
                         f"near the top, `#| hide` if readers need not see it).")
    return probs

def proc_nbs(nbs, quiet=False, timeout=300):
    """Process `nbs` into _proc/, each in a fresh python (show_doc runs IPython there, which takes over `__main__`),
    two or more at a time; return {name: error or None}."""
    from concurrent.futures import ThreadPoolExecutor
    PROC.mkdir(exist_ok=True)
    for f in ['_quarto.yml', 'nbdev.yml', 'sidebar.yml', 'styles.css']:  # what nbdev's proc_nbs copies along
        if (NBS/f).exists(): shutil.copy2(NBS/f, PROC/f)
    def run(p):
        try: r = subprocess.run([sys.executable, __file__, '_proc', str(p)], capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return [p.name, float(timeout), f"nbdev's processing took more than {timeout} s, so it was stopped: a cell the "
                    f"docs build runs (exports, imports, show_doc) does real work; keep those cells to definitions", []]
        try: return json.loads(r.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            return [p.name, 0.0, f"the processing crashed (exit {r.returncode}): {r.stderr.strip()[-800:]}", []]
    t, errs = time.perf_counter(), {}
    with ThreadPoolExecutor(max(1, min(len(nbs), os.cpu_count() or 1, 4))) as ex:
        for name, secs, err, ws in ex.map(run, nbs):
            if err and ws:
                err += ("\n  nbdev warned that a cell mixes imports with other code. The docs build runs every cell that "
                        "imports (and no other code but exports and show_doc), so that cell ran without the cells it "
                        "needs. Put the imports in a cell of their own.")
            errs[name] = err
            if not quiet: print(f"  processed nbs/{name:<24} {secs:5.1f} s{'  FAILED' if err else ''}", flush=True)
    if not quiet: print(f"nbdev processing of {len(nbs)} notebooks: {time.perf_counter()-t:.1f} s", flush=True)
    return errs

def proc_one_inprocess(src):
    "Process one notebook that runs no code for its docs (the home page) without a worker; return the processed nb."
    from nbdev.serve_drv import main
    from nbdev.processors import FilterDefaults
    PROC.mkdir(exist_ok=True)
    main((Path(src), PROC/Path(src).name, FilterDefaults))
    return nbformat.read(PROC/Path(src).name, 4)

# ---------------------------------------------------------------------------------------------------------------
# From a processed notebook to what nbconvert can render (the parts quarto would have handled)

_re_dir = re.compile(r'^\s*#\|\s?(.*)$')
_re_src_link = re.compile(r'\[source\]\(([^)\s]+)\)\{[^}]*\}')
_re_attrs = re.compile(r'(\[[^\]]*\]\([^)\s]*\))\{[^}\n]*\}')

def split_directives(src):
    "(directives as {key: value}, source without its leading `#|` lines)."
    lines, d = src.splitlines(), {}
    while lines and _re_dir.match(lines[0]):
        k, _, v = _re_dir.match(lines.pop(0)).group(1).partition(':')
        d[k.strip()] = v.strip()
    return d, '\n'.join(lines)

def frontmatter(nb):
    "The YAML frontmatter nbdev's FrontmatterProc puts in the first raw cell ({} if none)."
    for c in nb.cells:
        if c.cell_type == 'raw' and c.source.lstrip().startswith('---'):
            body = c.source.strip().strip('-')
            try: return yaml.safe_load(body) or {}
            except yaml.YAMLError: return {}
    return {}

def page_name(nb, src):
    return frontmatter(nb).get('output-file') or ('index.html' if src.stem == 'index' else src.stem + '.html')

_re_nblink = re.compile(r'\]\(([\w.-]+)\.ipynb(#[^)\s]*)?\)')

def fix_md(s, local):
    """Quarto-only markdown made portable: pandoc `{attrs}` after links, `:::` fences. Links `X.ipynb` between notebooks
    (which Jupyter and quarto follow) become `X.html` pages if `local`, else `nbs/X.ipynb` (GitHub, from the README)."""
    s = _re_src_link.sub(lambda m: f'<a class="source-link" href="{m.group(1)}">source</a>' if local else f'[source]({m.group(1)})', s)
    s = _re_attrs.sub(r'\1', s)
    s = '\n'.join(l for l in s.split('\n') if not l.startswith(':::'))
    # nbdev links `names` in show_doc's signature too, where a code block shows the markdown literally: unlink there
    s = re.sub(r'(?ms)^```.*?^```', lambda m: re.sub(r'\[(`[^`\]]+`)\]\([^)\s]*\)', r'\1', m.group(0)), s)
    from nbdev.frontmatter import _nbpath2html  # nbdev's own notebook -> page name (01_activations.ipynb -> activations.html)
    def _link(m):
        nb = m.group(1) + '.ipynb'
        return f"]({_nbpath2html(Path(nb)).name if local else f'{NBS.name}/{nb}'}{m.group(2) or ''})"
    s = _re_nblink.sub(_link, s)
    if local: s = s.replace(SITE_URL, '')
    return s

def view_nb(nb, local):
    "A copy of processed `nb` for nbconvert: title cell from the frontmatter, directives applied and stripped."
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    nb.metadata.setdefault('language_info', {'name': 'python'})  # nbdev_clean drops it; it names the code fences
    cells = []
    for c in nb.cells:
        if c.cell_type == 'raw' and c.source.lstrip().startswith('---'):
            fm = frontmatter(nbformat.v4.new_notebook(cells=[c]))
            src = f"# {fm.get('title', '')}".rstrip()
            if fm.get('description'): src += f"\n\n> {fm['description']}"
            cells.append(nbformat.v4.new_markdown_cell(src)); continue
        if c.cell_type == 'markdown':
            if local and re.fullmatch(r'\s*<!--.*?-->\s*', c.source, re.S): continue  # nbdev's DO-NOT-EDIT note: README only
            c.source = fix_md(c.source, local)
        if c.cell_type == 'code':
            d, c.source = split_directives(c.source)
            if d.get('include', '').lower() == 'false': continue
            tags = set(c.metadata.get('tags', []))
            if d.get('echo', '').lower() == 'false' or not c.source.strip(): tags.add('remove_input')
            if d.get('output', '').lower() == 'false': tags.add('remove_output')
            c.metadata['tags'] = sorted(tags)
            for o in c.get('outputs', []):
                if 'data' in o and 'text/markdown' in o.data:
                    md = o.data['text/markdown']
                    o.data['text/markdown'] = fix_md(''.join(md) if isinstance(md, list) else md, local)
            if 'remove_input' in tags and not c.get('outputs'): continue
        cells.append(c)
    nb.cells = cells
    return nb

def _exporter(cls, **kw):
    from traitlets.config import Config
    c = Config()
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_input_tags = {'remove_input'}
    c.TagRemovePreprocessor.remove_all_outputs_tags = {'remove_output'}
    return cls(config=c, **kw)

# ---------------------------------------------------------------------------------------------------------------
# readme

def readme_text(proc_index):
    "README.md text from the processed home page, as GitHub shows markdown (links to the published site kept)."
    from nbconvert import MarkdownExporter
    body, res = _exporter(MarkdownExporter).from_notebook_node(view_nb(proc_index, local=False))
    if res.get('outputs'):
        raise SystemExit("nbs/index.ipynb has image outputs; the README would need files beside it. "
                         "Keep the home page's plots out of index.ipynb (link to the chapter instead).")
    body = re.sub(r'\n{3,}', '\n\n', body).strip() + '\n'
    return body

def cmd_readme(args):
    t = time.perf_counter()
    README.write_text(readme_text(proc_one_inprocess(NBS/'index.ipynb')))
    print(f"wrote {rel(README)} from nbs/index.ipynb ({time.perf_counter()-t:.1f} s)")

# ---------------------------------------------------------------------------------------------------------------
# html

CSS = """
:root { --side: 250px; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --code: #f6f8fa; --accent: #2780e3; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); font: 16px/1.6 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
nav.sidebar { position: fixed; top: 0; bottom: 0; left: 0; width: var(--side); overflow-y: auto; padding: 1.2rem 1rem;
  background: #f7f9fb; border-right: 1px solid var(--line); }
nav.sidebar .site { display: block; font-weight: 700; font-size: 1.15rem; color: var(--fg); text-decoration: none; margin-bottom: .2rem; }
nav.sidebar .tagline { font-size: .8rem; color: var(--muted); margin: 0 0 1rem; line-height: 1.35; }
nav.sidebar ol { list-style: none; padding: 0; margin: 0; }
nav.sidebar li a { display: block; padding: .3rem .6rem; border-radius: 6px; color: var(--fg); text-decoration: none; font-size: .95rem; }
nav.sidebar li a:hover { background: #e8eef5; }
nav.sidebar li a.current { background: var(--accent); color: white; }
nav.sidebar li a code { background: none; padding: 0; font-size: 90%; color: inherit; }
nav.sidebar .note { margin-top: 1.5rem; font-size: .75rem; color: var(--muted); }
main { margin-left: var(--side); padding: 1.5rem 3rem 4rem; }
main > .page { max-width: 1060px; }
a { color: var(--accent); }
h1 { font-size: 2.1rem; margin: .4rem 0 .6rem; line-height: 1.2; }
h1 + blockquote { border: none; padding: 0; margin: 0 0 1.2rem; color: var(--muted); font-size: 1.2rem; font-style: italic; }
blockquote p { margin: .3rem 0; }
.rendered_html > p:first-child, .rendered_html > ul:first-child, .rendered_html > ol:first-child { margin-top: 0; }
.rendered_html > :last-child { margin-bottom: 0; }
h2 { margin-top: 2.2rem; padding-bottom: .25rem; border-bottom: 1px solid var(--line); }
h3 { margin-top: 1.6rem; }
blockquote { margin: 1rem 0; padding: .2rem 1rem; border-left: 4px solid var(--line); color: var(--muted); }
a.anchor-link { visibility: hidden; margin-left: .3rem; text-decoration: none; color: var(--muted); }
h1:hover a.anchor-link, h2:hover a.anchor-link, h3:hover a.anchor-link, h4:hover a.anchor-link { visibility: visible; }
code { background: var(--code); padding: .1em .3em; border-radius: 4px; font-size: 88%; }
pre { background: var(--code); padding: .7rem 1rem; border-radius: 6px; overflow-x: auto; font-size: 13.5px; line-height: 1.45; margin: 0; }
pre code { background: none; padding: 0; font-size: inherit; }
table { border-collapse: collapse; margin: 1rem 0; font-size: .95rem; }
th, td { border: 1px solid var(--line); padding: .35rem .75rem; text-align: left; vertical-align: top; }
th { background: #f2f5f8; }
tr:nth-child(even) td { background: #fafbfc; }
.cell { margin: .9rem 0; }
.output_area { margin-top: .35rem; }
.output_area pre { background: none; border-left: 3px solid #f0b27a; border-radius: 0; padding: .3rem .9rem; }
.output_area img { max-width: 100%; height: auto; display: block; }
.output_markdown { padding: 0; }
.output_markdown > hr { border: none; border-top: 2px solid var(--line); margin: 1.8rem 0 .4rem; }
.output_markdown h2, .output_markdown h3, .output_markdown h4 { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; border: none; margin-top: .3rem; }
a.source-link { float: right; font-size: .8rem; }
.output_stderr pre { background: #fff5f5; }
.pager { display: flex; justify-content: space-between; margin-top: 3rem; padding-top: 1rem; border-top: 1px solid var(--line); }
.jp-RenderedHTMLCommon, .rendered_html { overflow-x: auto; }
@media (max-width: 800px) { nav.sidebar { position: static; width: auto; border: none; } main { margin: 0; padding: 1rem; } }
"""

MATHJAX = """<script>window.MathJax = { tex: { inlineMath: [['$','$'], ['\\\\(','\\\\)']], displayMath: [['$$','$$'], ['\\\\[','\\\\]']],
  processEscapes: true, processEnvironments: true } };</script>
<script async src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml-full.js"></script>"""

def page_html(title, body, nav, pager):
    from pygments.formatters import HtmlFormatter
    css = HtmlFormatter(style='default').get_style_defs('.highlight') + CSS
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title.replace('`', ''))} – {html.escape(CFG.title)}</title>
<style>{css}</style>
{MATHJAX}
</head><body>
{nav}
<main><div class="page">
{body}
{pager}
</div></main>
</body></html>
"""

def _md_inline(t):
    "A page title (markdown: `code` allowed) as HTML for the sidebar and the pager."
    return re.sub(r'`([^`]+)`', r'<code>\1</code>', html.escape(t))

def build_html(nbs, out):
    "Render processed `nbs` (already in _proc/) into `out`, linked by a sidebar in reading order; return page names."
    from nbconvert import HTMLExporter
    ex = _exporter(HTMLExporter, template_name='basic', exclude_input_prompt=True, exclude_output_prompt=True)
    pages = []
    for src in nbs:
        nb = nbformat.read(PROC/src.name, 4)
        fm = frontmatter(nb)
        pages.append((src, nb, page_name(nb, src), fm.get('title') or src.stem))
    out.mkdir(parents=True, exist_ok=True)
    for i, (src, nb, name, title) in enumerate(pages):
        body, _ = ex.from_notebook_node(view_nb(nb, local=True))
        items = '\n'.join(f'<li><a href="{n}"{" class=current" if n == name else ""}>{_md_inline(t)}</a></li>'
                          for _, _, n, t in pages)
        nav = (f'<nav class="sidebar"><a class="site" href="index.html">{html.escape(CFG.title)}</a>'
               f'<p class="tagline">{html.escape(CFG.description)}</p><ol>{items}</ol>'
               f'<p class="note">Preview built without quarto by <code>make docs</code>; with quarto installed it builds the '
               f'nbdev site instead.</p></nav>')
        prev = f'<a href="{pages[i-1][2]}">← {_md_inline(pages[i-1][3])}</a>' if i > 0 else '<span></span>'
        nxt = f'<a href="{pages[i+1][2]}">{_md_inline(pages[i+1][3])} →</a>' if i+1 < len(pages) else '<span></span>'
        (out/name).write_text(page_html(title, body, nav, f'<div class="pager">{prev}{nxt}</div>'))
    return [p[2] for p in pages]

def cmd_html(args):
    t = time.perf_counter()
    for p in sidebar_problems(): print(f"warning: {p}")
    nbs = reading_order()
    mixed = {p.name: mixed_import_cells(p) for p in nbs}
    errs = proc_nbs([p for p in nbs if not mixed[p.name]], timeout=args.timeout)
    bad = {n: e for n, e in errs.items() if e} | {n: '\n  '.join(m) for n, m in mixed.items() if m}
    out = Path(args.out)
    if out.exists() and out.resolve() == DOCS.resolve(): shutil.rmtree(out)
    names = build_html([p for p in nbs if p.name not in bad], out)
    print(f"wrote {len(names)} pages to {out}/ in reading order: {', '.join(names)} ({time.perf_counter()-t:.1f} s)")
    print(f"open {out.resolve()/'index.html'}  (or: cd {out} && python -m http.server)")
    for n, e in bad.items(): print(f"FAIL nbs/{n} has no page:\n  {e}", file=sys.stderr)
    if bad: sys.exit(1)

# ---------------------------------------------------------------------------------------------------------------
# check

def _module_names(py):
    "{top-level name: notebook it came from} for a module nbdev wrote (the `# %% ../nbs/NB.ipynb` markers say which)."
    src, cur, res = py.read_text(), None, {}
    tree = ast.parse(src)
    marks = [(i+1, m.group(1)) for i, l in enumerate(src.splitlines()) if (m := re.match(r'#\s*%%\s*\S*?([^/\s]+\.ipynb)', l))]
    def nb_at(line):
        nb = None
        for ln, n in marks:
            if ln <= line: nb = n
        return nb
    kinds = {}
    for node in tree.body:
        names = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): names, kind = [node.name], 'def'
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            kind = 'value'
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                names += [n.id for n in ast.walk(t) if isinstance(n, ast.Name)]
        else: continue
        for n in names: res[n], kinds[n] = nb_at(node.lineno), kind
    all_ = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == '__all__' for t in node.targets):
            all_ = ast.literal_eval(node.value)
    return all_, res, kinds

def undocumented_params():
    """Named parameters of exported functions and classes with no docment (the comment after the parameter, which
    show_doc prints beside it), one message per symbol. `*args` and `**kwargs` are left out."""
    import importlib, inspect, warnings
    from fastcore.docments import docments
    probs = []
    for py in sorted(LIB.glob('*.py')):
        if py.name.startswith('_'): continue
        all_, where, kinds = _module_names(py)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                mod = importlib.import_module(f"{CFG.lib_name}.{py.stem}")
        except Exception as e:
            probs.append(f"{rel(py)} does not import: {type(e).__name__}: {e}"); continue
        for name in all_:
            o = getattr(mod, name, None)
            if not (inspect.isfunction(o) or inspect.isclass(o)): continue
            try: sig, dm = inspect.signature(o), docments(o, full=True)
            except (TypeError, ValueError): continue
            named = [k for k, v in sig.parameters.items() if k != 'self' and v.kind not in (v.VAR_POSITIONAL, v.VAR_KEYWORD)]
            miss = [k for k in named if not (dm.get(k) or {}).get('docment')]
            if miss:
                probs.append(f"nbs/{where.get(name)}: `{name}` ({py.stem}.{name}) has parameters with no docment: "
                             f"{', '.join(miss)}; add a comment after each (`{miss[0]}:type=..., # what it is`)")
    return probs

def _page_text(nb):
    "Everything a reader sees on a processed page: markdown, shown code, text and markdown outputs."
    parts = []
    for c in nb.cells:
        if c.cell_type == 'raw': continue
        d, s = split_directives(c.source) if c.cell_type == 'code' else ({}, c.source)
        if d.get('echo', '').lower() != 'false': parts.append(s)
        for o in c.get('outputs', []):
            if 'text' in o: parts.append(''.join(o.text))
            for k in ('text/markdown', 'text/plain', 'text/html'):
                v = o.get('data', {}).get(k)
                if v: parts.append(''.join(v) if isinstance(v, list) else v)
    return '\n'.join(parts)

def _doc_headings(nb):
    "Names that have a show_doc entry on a processed page."
    hs = set()
    for c in nb.cells:
        for o in c.get('outputs', []):
            md = o.get('data', {}).get('text/markdown')
            if md: hs |= set(re.findall(r'^#{1,6}\s+(\S+?)\s*$', ''.join(md) if isinstance(md, list) else md, re.M))
    return hs

def output_problems(nb, where):
    "Error outputs, warnings, SVG plots, stray `<Figure ...>` reprs in `nb`; one message each."
    probs = []
    for i, c in enumerate(nb.cells):
        if c.cell_type != 'code': continue
        for o in c.get('outputs', []):
            t, data = o.get('output_type'), o.get('data', {})
            if t == 'error':
                probs.append(f"{where} cell {i} has an error output ({o.get('ename')}: {o.get('evalue')}); fix it and re-run the notebook")
            elif t == 'stream' and o.get('name') == 'stderr':
                line = next((l for l in ''.join(o.get('text', '')).splitlines() if l.strip()), '')
                if re.search(r'warn|error|traceback', line, re.I):
                    probs.append(f"{where} cell {i} has a warning in its output: {line.strip()[:160]!r}; fix its cause and re-run")
            elif 'image/svg+xml' in data:
                probs.append(f"{where} cell {i} has an SVG plot; plots are committed as PNG (matplotlib's inline default)")
            elif set(data) == {'text/plain'} and ''.join(data['text/plain']).startswith('<Figure size'):
                probs.append(f"{where} cell {i} prints `<Figure size ...>`; end the plot cell with `;` or show the figure")
    return probs

def looks_unexecuted(nb):
    "True when a notebook has code a reader would see run but no output at all."
    shown = [c for c in nb.cells if c.cell_type == 'code' and c.source.strip()
             and not re.match(r'\s*#\|\s*(export|exports|exporti|hide|default_exp)\b', c.source)]
    return bool(shown) and not any(c.get('outputs') for c in nb.cells if c.cell_type == 'code')

def cmd_check(args):
    t0 = time.perf_counter()
    probs = list(sidebar_problems())
    nbs = reading_order()
    if not (NBS/'index.ipynb').exists(): probs.append("nbs/index.ipynb is missing: it is the home page and the README")
    # 1. the notebooks as committed
    for p in nbs:
        nb = nbformat.read(p, 4)
        probs += output_problems(nb, f"nbs/{p.name}")
        if p.name != 'index.ipynb' and looks_unexecuted(nb):
            probs.append(f"nbs/{p.name} has no outputs: commit it executed "
                         f"(.venv/bin/jupyter nbconvert --to notebook --execute --inplace nbs/{p.name})")
    # links between notebooks (`[Training](02_training.ipynb)`) point at notebooks that exist
    for p in nbs:
        for i, c in enumerate(nbformat.read(p, 4).cells):
            if c.cell_type != 'markdown': continue
            for m in _re_nblink.finditer(c.source):
                if not (NBS/f"{m.group(1)}.ipynb").exists():
                    probs.append(f"nbs/{p.name} cell {i} links to {m.group(1)}.ipynb, which is not in nbs/: fix or drop the link")
    # 2. nbdev's processing (what nbdev_proc_nbs does) succeeds for every notebook; a notebook with a cell that it
    #    would run out of place is reported, not processed (the cell may be a long training run)
    mixed = {p.name: mixed_import_cells(p) for p in nbs}
    for m in mixed.values(): probs += m
    errs = proc_nbs([p for p in nbs if not mixed[p.name]], quiet=args.quiet, timeout=args.timeout)
    probs += [f"nbs/{n}: nbdev_proc_nbs fails on it:\n    {e}" for n, e in errs.items() if e]
    ok = [p for p in nbs if p.name in errs and not errs[p.name]]
    procd = {p.name: nbformat.read(PROC/p.name, 4) for p in ok}
    # 3. every notebook is a page with a title, and renders to HTML without quarto
    for p in ok:
        nb = procd[p.name]
        if not frontmatter(nb).get('title'):
            probs.append(f"nbs/{p.name} has no page title: its first markdown cell must be `# Title` then `> one-line summary`")
        probs += output_problems(nb, f"page of nbs/{p.name}")
    with tempfile.TemporaryDirectory() as d:
        try: build_html(ok, Path(d))
        except Exception as e: probs.append(f"rendering the pages with nbconvert failed: {type(e).__name__}: {e}")
    # 4. every exported name appears on its chapter's page; functions and classes with their show_doc entry
    for py in sorted(LIB.glob('*.py')):
        if py.name.startswith('_'): continue
        all_, where, kinds = _module_names(py)
        for name in all_:
            nbn = where.get(name)
            if nbn is None: probs.append(f"{rel(py)}: `{name}` is in __all__ but not defined at top level"); continue
            if nbn not in procd:
                if not (NBS/nbn).exists(): probs.append(f"{rel(py)}: `{name}` comes from nbs/{nbn}, which is not in nbs/ (run nbdev_export)")
                continue
            nb = procd[nbn]
            if kinds[name] == 'def' and name not in _doc_headings(nb):
                probs.append(f"nbs/{nbn}: `{name}` ({py.stem}.{name}) has no show_doc entry on its page; "
                             f"export it in a plain `#| export` cell (not hidden) or add a `show_doc({name})` cell")
            elif kinds[name] != 'def' and not re.search(rf'(?<![\w.]){re.escape(name)}(?!\w)', _page_text(nb)):
                probs.append(f"nbs/{nbn}: `{name}` ({py.stem}.{name}) is exported but never shown on its page; "
                             f"mention it in the prose, use it in a visible cell, or export it with `#| exports` (shows its source)")
    # every named parameter of an exported function or class has a docment, so show_doc's entry documents it
    probs += undocumented_params()
    # 5. README.md is what index.ipynb makes
    if 'index.ipynb' in procd:
        want = readme_text(proc_one_inprocess(NBS/'index.ipynb'))
        have = README.read_text() if README.exists() else ''
        if want != have:
            diff = list(difflib.unified_diff(have.splitlines(), want.splitlines(), 'README.md (committed)',
                                             'README.md (from nbs/index.ipynb)', n=0, lineterm=''))[:12]
            probs.append("README.md is not what nbs/index.ipynb makes: run `make readme` and commit "
                         "(edit nbs/index.ipynb, never README.md)\n    " + '\n    '.join(diff))
    secs = time.perf_counter() - t0
    if probs:
        print(f"FAIL docs: {len(probs)} problem(s) ({secs:.1f} s)", file=sys.stderr)
        for p in probs: print(f"  - {p}", file=sys.stderr)
        sys.exit(1)
    print(f"docs OK: {len(nbs)} notebooks -> {len(nbs)} pages, exported names documented, no error outputs, "
          f"README.md in sync ({secs:.1f} s)")

# ---------------------------------------------------------------------------------------------------------------
# exec

def cmd_exec(args):
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from nbdev.process import NBProcessor

    class Client(NotebookClient):
        updates = 0
        def process_message(self, msg, cell, cell_index):
            if msg['msg_type'] in ('update_display_data', 'clear_output'): self.updates += 1
            return super().process_message(msg, cell, cell_index)

    skip = set() if args.all else TST_FLAGS
    nbs = [NBS/n if n.endswith('.ipynb') else NBS/f'{n}.ipynb' for n in args.notebooks] if args.notebooks else reading_order()
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix='mlp_nbdev_exec_'))
    out.mkdir(parents=True, exist_ok=True)
    print(f"executing {len(nbs)} notebooks in Jupyter kernel `{args.kernel}` (cwd nbs/, as nbdev_test); "
          f"{'all cells' if not skip else 'skipping cells flagged ' + ' '.join(sorted(skip))}; copies in {out}/")
    rows, failed, t0 = [], [], time.perf_counter()
    for p in nbs:
        nb = nbformat.read(p, 4)
        dirs = [getattr(c, 'directives_', {}) or {} for c in NBProcessor(p).nb.cells]
        keep = []
        for c, d in zip(nb.cells, dirs):
            if c.cell_type == 'code' and (skip & d.keys() or (d.get('eval:', [''])[0].lower() == 'false')): continue
            keep.append(c)
        skipped = len(nb.cells) - len(keep)
        nb.cells = keep
        # a kernel over local sockets (ipc; tcp makes the kernel warn that it is unencrypted), shut down after each notebook
        km = AsyncKernelManager(kernel_name=args.kernel, **({'transport': 'ipc', 'ip': str(out/'.kernel')} if os.name == 'posix' else {}))
        client = Client(nb, km=km, timeout=args.timeout, resources={'metadata': {'path': str(NBS.resolve())}})
        t, err = time.perf_counter(), None
        try: client.execute()
        except CellExecutionError as e: err = str(e).strip().splitlines()[-1]
        except Exception as e: err = f"{type(e).__name__}: {e}"
        finally:
            if km.has_kernel: run_sync(km.shutdown_kernel)(now=True)
        secs = time.perf_counter() - t
        nbformat.write(nb, out/p.name)
        probs = output_problems(nb, f"executed {p.name}")
        if err: probs.insert(0, f"{p.name}: {err}")
        imgs = sum('image/png' in o.get('data', {}) for c in nb.cells for o in c.get('outputs', []))
        rows.append((p.name, secs, skipped, imgs, client.updates, 'ok' if not probs else 'FAIL'))
        print(f"  {p.name:<24} {secs:6.1f} s  {imgs:3d} plots  {client.updates:4d} in-place updates"
              f"{f'  {skipped} flagged cells skipped' if skipped else ''}  {'ok' if not probs else 'FAIL'}", flush=True)
        for q in probs: print(f"      {q}")
        if probs: failed.append(p.name)
    print(f"total {time.perf_counter()-t0:.1f} s")
    if failed:
        print(f"FAIL exec: {', '.join(failed)} did not run clean in a Jupyter kernel (copies in {out}/)", file=sys.stderr)
        sys.exit(1)
    if not args.out: shutil.rmtree(out)
    print("every notebook ran top to bottom in a Jupyter kernel with no error and no warning output")

# ---------------------------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    sub.add_parser('readme', help='write README.md from nbs/index.ipynb (no quarto needed)').set_defaults(f=cmd_readme)
    h = sub.add_parser('html', help='build the HTML preview of every page into _docs/ (no quarto needed)')
    h.add_argument('--out', default=str(DOCS), help='output folder (default: doc_path of settings.ini, _docs)')
    h.add_argument('--timeout', type=int, default=300, help="seconds nbdev's processing of one notebook may take")
    h.set_defaults(f=cmd_html)
    c = sub.add_parser('check', help='the docs check of `make test`')
    c.add_argument('--quiet', action='store_true', help='no per-notebook timings')
    c.add_argument('--timeout', type=int, default=300, help="seconds nbdev's processing of one notebook may take")
    c.set_defaults(f=cmd_check)
    e = sub.add_parser('exec', help='execute every notebook in a real Jupyter kernel (copies; nbs/ untouched)')
    e.add_argument('notebooks', nargs='*', help='notebook names (default: all, in reading order)')
    e.add_argument('--all', action='store_true', help=f'also run cells flagged {" ".join(sorted(TST_FLAGS))} (as `Run All` in Jupyter does)')
    e.add_argument('--kernel', default='python3', help="kernel name (default python3: the venv's own when run from the venv)")
    e.add_argument('--timeout', type=int, default=900, help='seconds per cell')
    e.add_argument('--out', help='keep the executed copies here (default: a temp folder, removed when all pass)')
    e.set_defaults(f=cmd_exec)
    if sys.argv[1:2] == ['_proc']:  # internal: one notebook, in its own process (see `proc_nbs`)
        res = _proc_worker(sys.argv[2]); sys.stdout.flush()
        return print('\n' + json.dumps(res))
    args = ap.parse_args()
    args.f(args)

if __name__ == '__main__': main()

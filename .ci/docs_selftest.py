#!/usr/bin/env python
"""Plant one defect per docs check in copies of _docs/, README.md and a notebook, and print what each check says.

    .venv/bin/python .ci/docs_selftest.py    # after a build (`make docs` or .ci/docs.py), quarto not needed

Every planted defect must be reported (it exits 1 naming any that is not): a markdown link shown as text, a link
to a missing anchor, a link to the site's own absolute URL, an image without alt text, a code block wider than the
column at 1280 px, an element wider than the screen at 390 px, a script from another host and the console errors
it causes, no favicon; README.md with a <style> block and relative links; a notebook with a code line over 100
characters and a progress-bar leftover; TeX in the search index; a cell that imports and uses an earlier cell's name; a figure drawn 10 times wider than shown. The copies live in a temporary folder; nothing in the repository changes.
"""
import json, re, shutil, sys, tempfile
from pathlib import Path
sys.argv = sys.argv[:1]; sys.path.insert(0, str(Path(__file__).parent))
import docs

WANT = {'markdown link': "markdown link shown as text: '[a markdown link]", 'anchor': "has no id 'no-such-anchor'",
        'absolute link': "link(s) to the site's own URL", 'alt text': 'image without alt text: favicon.svg',
        'wide code block': 'div "x = 1', 'wider than 390 px': 'files.html at 390 px: the page is',
        'other host': 'request to another host: https://cdn.example.com', 'console error': 'define is not defined',
        'favicon': 'no favicon', 'README <style>': 'has a <style> block', 'README relative': 'relative link(s)',
        'long code line': 'code line(s) over 100', 'progress-bar leftover': 'progress-bar leftovers',
        'TeX in search': 'raw TeX in a search result', 'import cell': 'imports and uses batches', 'shrunk figure': 'its text shrunk'}

def main():
    tmp = Path(tempfile.mkdtemp())
    try:
        shutil.copytree(docs.DOCS, tmp/'_docs'); docs.DOCS = tmp/'_docs'
        page = docs.DOCS/'files.html'
        h = page.read_text().replace('</main>', '''<p>[a markdown link](https://example.com/x)</p>
<a href="loop.html#no-such-anchor">x</a> <a href="https://mlp-nbdev.github.io/mlp_nbdev/loop.html">abs</a>
<img src="favicon.svg"><img alt="wide" src="data:image/svg+xml;utf8,<svg xmlns=%22http://www.w3.org/2000/svg%22 width=%223000%22 height=%2210%22/>" style="width:300px"><div class="sourceCode"><pre><code>x = 1  # ''' + 'y' * 150 + '''</code></pre></div>
<p><span style="display:inline-block;width:900px">wide</span></p>
<script src="https://cdn.example.com/require.js"></script><script>define("x")</script></main>''', 1)
        page.write_text(re.sub(r'<link href="./favicon.svg"[^>]*>', '', h))
        idx = json.loads((docs.DOCS/'search.json').read_text())
        idx.append(dict(href='files.html#planted', title='planted', text='the sum \\mathbf{X}\\mathbf{W} + b'))
        (docs.DOCS/'search.json').write_text(json.dumps(idx))
        docs.README = tmp/'README.md'
        docs.README.write_text(Path('README.md').read_text() + '\n<style>.x{}</style>\n[Data](02_data.ipynb) ![](index_files/x.png)\n')
        nb = json.loads(Path('nbs/00_files.ipynb').read_text())
        cell = next(c for c in nb['cells'] if c['cell_type'] == 'code')
        cell['source'] = cell['source'] + ['\nz = 1  # ' + 'w' * 120]
        cell['outputs'] = [{'output_type': 'display_data', 'data': {'text/html': ['']}, 'metadata': {}}]
        nb['cells'].append(dict(cell_type='code', id='planted', metadata={}, outputs=[], execution_count=None,
                                source=['from itertools import islice\n', 'few = list(islice(batches, 3))']))
        (tmp/'00_files.ipynb').write_text(json.dumps(nb))
        probs = (docs.readme_shape_problems() + docs.notebook_problems([tmp/'00_files.ipynb'])
                 + docs.import_cell_problems([tmp/'00_files.ipynb']) + docs.link_problems()
                 + docs.search_problems() + docs.browser_problems())
    finally: shutil.rmtree(tmp, ignore_errors=True)
    planted = [p for p in probs if 'files.html' in p or 'README' in p or 'favicon' in p or '00_files' in p]
    print(*(f'  - {p[:200]}' for p in planted), sep='\n')
    missed = [k for k, s in WANT.items() if not any(s in p for p in planted)]
    if missed: sys.exit(f"FAIL docs self-test: not reported: {', '.join(missed)}")
    print(f"docs self-test OK: all {len(WANT)} planted defects reported")

if __name__ == '__main__': main()

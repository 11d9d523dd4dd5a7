#!/usr/bin/env python
"""The site's and README's fixes after quarto, in one place (standard library only).

    python .ci/postrender.py                 # quarto's post-render step (nbs/_quarto.yml): every page of the site
    python .ci/postrender.py --readme FILE   # `make readme`: README.md's links and images as absolute URLs
    python .ci/postrender.py --strip-bars NB...  # drop the progress bar's leftovers from notebooks' saved outputs

The site (the pages quarto wrote, in $QUARTO_PROJECT_OUTPUT_DIR, else settings.ini's doc_path):
1. nbdev links every backticked name in markdown to its docs page as an absolute URL (settings.ini's doc_host):
   links inside the site become relative (`loop.html#learner`), so `_docs/` works from any host or from disk;
2. a backticked name inside the text of a link gets a second link, which markdown cannot nest: the reader saw
   `[<code>mlp</code>](https://...)` as text inside the outer link. The outer link is kept, the inner dropped;
3. in code blocks (show_doc's signatures with their comments) nbdev's links are markdown, shown as text: they
   become real links around the name;
4. nbdev links a private name (`_frontend`) to an anchor its page does not have (no show_doc entry): such a link
   (a lone `<code>name</code>` pointing at `page.html#name`, where the page has no such id) is unlinked;
5. quarto's search index (search.json) takes the text of MathML with its TeX annotation, so search results showed
   `𝐗𝐖+𝐛\mathbf{X}\mathbf{W} + \mathbf{b}`: every annotation's TeX is removed from the index's text.
Links written by hand are left alone: `.ci/docs.py` checks that they resolve.

README.md (what nbdev_readme renders from nbs/index.ipynb; GitHub and PyPI show it, PyPI resolves nothing relative):
chapter links `X.ipynb` become the docs pages' URLs, `#anchor` the home page's, any other relative link the file
on GitHub; images become raw.githubusercontent.com URLs of the files nbdev_readme commits; `<style>` and
`<script>` blocks (a notebook's HTML outputs) are removed, since GitHub and PyPI show them as text.
"""
import configparser, os, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def settings():
    cp = configparser.ConfigParser(); cp.read(ROOT/'settings.ini'); return cp['DEFAULT']

def site_url(cfg): return cfg['doc_host'].rstrip('/') + '/' + cfg.get('doc_baseurl', '').strip('/') + '/'

def page_of(nb):
    "The page nbdev makes of a notebook (03_activations.ipynb -> activations.html)."
    return re.sub(r'^\d+[a-zA-Z0-9]*_', '', Path(nb).stem.lower()) + '.html'

# --- the site ---------------------------------------------------------------------------------------------------
IDS = re.compile(r'\sid="([^"]+)"')
MD_CODE_LINK = re.compile(r'\[(<code>[^<]*</code>)\]\(([^)\s]+)\)')  # a markdown link shown as text, around code
CODE_MD_LINK = re.compile(r'\[`([^`\[\]]+)`\]\(([^)\s]+)\)')  # the same inside a code block: no <code> there
AUTO_LINK = re.compile(r'<a href="([\w.-]+\.html)#([^"]+)"(?: class="[^"]*")?>(<code>([^<]*)</code>)</a>')

def inside_link(html, pos):
    "Whether position `pos` of `html` is inside an open <a> element."
    return html.rfind('<a ', 0, pos) > html.rfind('</a>', 0, pos)

def fix_page(html, site, ids):
    "One page's HTML with the fixes 1-4 of the module's docstring; `ids` maps page names to their element ids."
    html = MD_CODE_LINK.sub(lambda m: m[1] if inside_link(m.string, m.start()) else f'<a href="{m[2]}">{m[1]}</a>', html)
    def missing(url, name):  # nbdev's link to a name its page has no anchor for
        page, _, anchor = url.removeprefix(site).partition('#')
        return ids.get(page) is not None and anchor not in ids[page] and anchor == name.lower()
    html = CODE_MD_LINK.sub(lambda m: f'`{m[1]}`' if missing(m[2], m[1]) else f'<a href="{m[2]}">{m[1]}</a>', html)
    html = html.replace(f'href="{site}', 'href="').replace(f'href="{site.rstrip("/")}"', 'href="index.html"')
    return AUTO_LINK.sub(lambda m: m[3] if missing(f'{m[1]}#{m[2]}', m[4]) else m[0], html)

def fix_site(out):
    site = site_url(settings())
    pages = sorted(Path(out).glob('*.html'))
    texts = {p.name: p.read_text(encoding='utf-8') for p in pages}
    ids = {n: set(IDS.findall(t)) for n, t in texts.items()}
    n = 0
    for p in pages:
        new = fix_page(texts[p.name], site, ids)
        if new != texts[p.name]: p.write_text(new, encoding='utf-8'); n += 1
    print(f"postrender: {n} of {len(pages)} pages in {out} fixed (relative links, nbdev's nested and code links)")
    search_without_tex(Path(out), texts.values())

MATH = re.compile(r'<math\b.*?</math>', re.S)
ANNOTATION = re.compile(r'<annotation\b[^>]*>(.*?)</annotation>', re.S)

def search_without_tex(out:Path, htmls):
    "Remove each formula's TeX from the search index, where it follows the formula's own text (`𝐗𝐖X W`)."
    idx = out/'search.json'
    if not idx.exists(): return
    import html as H, json
    pairs = set()  # (what the index holds: the formula's text then its TeX, what it should: the text alone)
    for h in htmls:
        for m in MATH.findall(h):
            tex = ANNOTATION.search(m)
            if not tex: continue
            shown = H.unescape(re.sub(r'<[^>]+>', '', ANNOTATION.sub('', m)))
            shown = re.sub(r'\s+', '', shown)
            tex = H.unescape(tex.group(1)).strip()
            pairs.add((shown + tex, shown))  # the index holds text, with < > & escaped or not
            for esc in (lambda t: H.escape(t, quote=False), lambda t: t.replace('<', '&lt;').replace('>', '&gt;')):
                pairs.add((esc(shown) + esc(tex), esc(shown)))
    pairs = sorted(pairs, key=lambda p: len(p[0]), reverse=True)
    entries, n = json.loads(idx.read_text(encoding='utf-8')), 0
    for e in entries:
        text = e.get('text', '')
        for both, shown in pairs:
            if both in text: text = text.replace(both, shown)
        if text != e.get('text', ''): e['text'], n = text, n + 1
    idx.write_text(json.dumps(entries, ensure_ascii=False), encoding='utf-8')
    print(f"postrender: formulas' TeX removed from {n} of {len(entries)} search entries")

# --- README -----------------------------------------------------------------------------------------------------
BLOCKS = re.compile(r'<(style|script)\b[^>]*>.*?</\1>\s*', re.S | re.I)
MD_LINK = re.compile(r'(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]+)>?((?:\s+"[^"]*")?)\s*\)')
HTML_SRC = re.compile(r'(<img\b[^>]*?\bsrc=")([^"]+)(")', re.I)
ABSOLUTE = re.compile(r'^([a-z][a-z0-9+.-]*:|//)', re.I)

def absolute(url, image, cfg):
    "The URL GitHub and PyPI need for a README link or image written as `url`."
    if ABSOLUTE.match(url): return url
    site, git = site_url(cfg), cfg['git_url'].rstrip('/')
    if url.startswith('#'): return site + 'index.html' + url
    path, _, frag = url.partition('#')
    path = path.removeprefix('./')
    if image:
        repo = git.split('github.com/', 1)[-1]
        return f"https://raw.githubusercontent.com/{repo}/{cfg.get('branch', 'main')}/{path}"
    if path.endswith('.ipynb') or path.endswith('.html'): return site + page_of(path) + (f'#{frag}' if frag else '')
    return f"{git}/blob/{cfg.get('branch', 'main')}/{url.removeprefix('./')}"

def fix_readme(text, cfg):
    text = BLOCKS.sub('', text)
    text = MD_LINK.sub(lambda m: f'{m[1]}[{m[2]}]({absolute(m[3], bool(m[1]), cfg)}{m[4]})', text)
    return HTML_SRC.sub(lambda m: m[1] + absolute(m[2], True, cfg) + m[3], text)

# --- notebooks --------------------------------------------------------------------------------------------------
def bar_leftover(o):
    "fastprogress 1.0's trace in a saved output: the emptied bar (an empty HTML output) or its <style> block."
    if o.get('output_type') != 'display_data': return False
    html = ''.join(o.get('data', {}).get('text/html', ['x'])).strip()
    return html == '' or (html.startswith('<style') and 'progress' in html)

def strip_bars(paths):
    import json
    for p in map(Path, paths):
        nb, n = json.loads(p.read_text(encoding='utf-8')), 0
        for c in nb['cells']:
            if c['cell_type'] == 'code':
                keep = [o for o in c['outputs'] if not bar_leftover(o)]; n += len(c['outputs']) - len(keep); c['outputs'] = keep
        if n:
            p.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n', encoding='utf-8')
            print(f"{p}: {n} progress-bar outputs dropped")

def main(argv):
    if argv[:1] == ['--strip-bars']: return strip_bars(argv[1:])
    if argv[:1] == ['--readme']:
        p = Path(argv[1] if len(argv) > 1 else ROOT/'README.md')
        old = p.read_text(encoding='utf-8'); new = fix_readme(old, settings())
        if new != old: p.write_text(new, encoding='utf-8')
        print(f"postrender: {p}: links and images absolute, no <style> or <script>")
        return
    out = os.environ.get('QUARTO_PROJECT_OUTPUT_DIR') or str(ROOT/settings().get('doc_path', '_docs'))
    fix_site(out)

if __name__ == '__main__': main(sys.argv[1:])

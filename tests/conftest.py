"pytest options of this project: `--nb` names the notebooks that tests/test_notebooks.py runs (`make test` lists them all)."

def pytest_addoption(parser):
    parser.addoption('--nb', action='append', default=[], metavar='NOTEBOOK',
                     help='a notebook for tests/test_notebooks.py to run; repeat it for more (default: every notebook in nbs/)')

# nbdev 2's setup.py: every setting lives in settings.ini; edit there, not here.
from configparser import ConfigParser
import setuptools, shlex

config = ConfigParser(delimiters=['='])
config.read('settings.ini', encoding='utf-8')
cfg = config['DEFAULT']

cfg_keys = 'version description keywords author author_email'.split()
expected = cfg_keys + "lib_name user branch license status min_python audience language".split()
missing = [o for o in expected if o not in cfg]
if missing: raise SystemExit(f"settings.ini is missing: {', '.join(missing)}")
setup_cfg = {o:cfg[o] for o in cfg_keys}

# settings.ini's license (nbdev's short names) as an SPDX expression, which setuptools asks for instead of classifiers
spdx = {'apache2': 'Apache-2.0', 'mit': 'MIT', 'gpl3': 'GPL-3.0-only', 'bsd3': 'BSD-3-Clause'}
# settings.ini's status is the classifier's own number: 3 -> 'Development Status :: 3 - Alpha'
statuses = { 1: 'Planning', 2: 'Pre-Alpha', 3: 'Alpha', 4: 'Beta', 5: 'Production/Stable', 6: 'Mature', 7: 'Inactive' }
status = int(cfg['status']) if cfg['status'].strip().isdigit() else None
if status not in statuses:
    raise SystemExit(f"settings.ini: status must be a number from 1 to 7 ({statuses}), got {cfg['status']!r}")
py_versions = '3.10 3.11 3.12 3.13'.split()
if cfg['min_python'] not in py_versions:
    raise SystemExit(f"settings.ini: min_python must be one of {', '.join(py_versions)}, got {cfg['min_python']!r}")

requirements = shlex.split(cfg.get('requirements', ''))
if cfg.get('pip_requirements'): requirements += shlex.split(cfg.get('pip_requirements', ''))
min_python = cfg['min_python']
dev_requirements = (cfg.get('dev_requirements') or '').split()
# the optional extras (settings.ini's `<name>_requirements`); the dev extra includes them, so `make test` has them
extras = {name: shlex.split(cfg.get(f'{name}_requirements', '')) for name in ('tune', 'tensorboard')}

package_data = dict()
pkg_data = cfg.get('package_data', None)
if pkg_data:
    package_data[cfg['lib_name']] =  pkg_data.split() # split as multiple files might be listed

setuptools.setup(
    name = cfg['lib_name'],
    license_expression = spdx.get(cfg['license'].lower(), cfg['license']),
    classifiers = [
        f'Development Status :: {status} - {statuses[status]}',
        'Intended Audience :: ' + cfg['audience'].title(),
        'Natural Language :: ' + cfg['language'].title(),
    ] + ['Programming Language :: Python :: '+o for o in py_versions[py_versions.index(min_python):]],
    url = cfg['git_url'],
    packages = setuptools.find_packages(include=[cfg['lib_name'], cfg['lib_name']+'.*']),
    include_package_data = True,
    install_requires = requirements,
    extras_require={ 'dev': dev_requirements + [r for reqs in extras.values() for r in reqs], **extras },
    dependency_links = cfg.get('dep_links','').split(),
    python_requires  = '>=' + cfg['min_python'],
    long_description = open('README.md', encoding='utf-8').read(),
    long_description_content_type = 'text/markdown',
    zip_safe = False,
    entry_points = {
        'console_scripts': cfg.get('console_scripts','').split(),
        'nbdev': [f'{cfg.get("lib_path")}={cfg.get("lib_path")}._modidx:d']
    },
    package_data = package_data,
    **setup_cfg)

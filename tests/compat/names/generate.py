"""Write ``deep_pipe_names.json``: every public name of deep_pipe's training modules, in every release on PyPI.

Usage: ``python tests/compat/names/generate.py [--cache DIR]``. Each release's source distribution of ``deep-pipe``
is downloaded once into the cache (default ``~/.cache/dpipe_lightning/deep-pipe``) and checked against the
index's sha256. The sources are read from the archives with `ast` (see ``analysis.py``); nothing is installed or
imported. ``pip download`` cannot fetch them: it builds each sdist's metadata, and the setup scripts of 0.0.7-0.2.2
fail to run on a current setuptools (a missing ``requirements.txt``, requirement strings such as ``pdp>=0.3<0.4``),
so the files are taken from the index's JSON API (PEP 691), which is what pip reads too.

The table holds one row per (module, name, kind, signature) with the releases that have it, as ranges of
consecutive releases: ``"0.0.7-0.2.8, 0.4.0"``. ``tests/compat/test_names.py`` checks dpipe_lightning against it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tarfile
import urllib.request
from collections import defaultdict
from pathlib import Path, PurePosixPath

from analysis import PACKAGE, Release
from packaging.version import Version

PROJECT = 'deep-pipe'
INDEX = f'https://pypi.org/simple/{PROJECT}/'
MODULES = (f'{PACKAGE}.train', f'{PACKAGE}.torch', f'{PACKAGE}.batch_iter')
# dpipe_lightning mirrors deep_pipe's layers as 0.0.7 had them; later releases' layers stay deep_pipe's
LAYERS_RELEASES = ('0.0.7', '0.0.7.post1')
TABLE = Path(__file__).with_name('deep_pipe_names.json')


def release_files() -> dict[str, dict]:
    """``{version: file entry}`` of the index's source distributions (``.tar.gz``), yanked ones left out."""
    request = urllib.request.Request(INDEX, headers={'Accept': 'application/vnd.pypi.simple.v1+json'})
    with urllib.request.urlopen(request, timeout=60) as response:
        files = json.load(response)['files']
    prefix = PROJECT.replace('-', '_') + '-'
    found = {}
    for entry in files:
        name = entry['filename']
        if name.startswith(prefix) and name.endswith('.tar.gz') and not entry.get('yanked'):
            found[name.removeprefix(prefix).removesuffix('.tar.gz')] = entry
    return dict(sorted(found.items(), key=lambda item: Version(item[0])))


def download(entry: dict, cache: Path) -> Path:
    """The sdist in the cache, downloaded if missing; ``ValueError`` if its sha256 is not the index's."""
    path = cache / entry['filename']
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(entry['url'], timeout=120) as response:
            data = response.read()
        partial = path.with_suffix('.partial')
        partial.write_bytes(data)
        partial.rename(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != entry['hashes']['sha256']:
        path.unlink()
        raise ValueError(f"{path.name}: sha256 {digest} is not the index's {entry['hashes']['sha256']}")
    return path


def read_sources(archive: Path) -> dict[str, str]:
    """``{module name: source}`` of the ``dpipe`` package in an sdist."""
    sources = {}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            parts = PurePosixPath(member.name).parts[1:]  # below the top folder <name>-<version>/
            if member.isfile() and parts and parts[0] == PACKAGE and parts[-1].endswith('.py'):
                module = [*parts[:-1], parts[-1].removesuffix('.py')]
                if module[-1] == '__init__':
                    module.pop()
                sources['.'.join(module)] = tar.extractfile(member).read().decode('utf-8')
    return sources


def ranges(versions: list[str], all_versions: list[str]) -> str:
    """``"0.0.7-0.2.8, 0.4.0"``: runs of consecutive releases."""
    indices = sorted(all_versions.index(v) for v in versions)
    runs, start = [], indices[0]
    for previous, current in zip(indices, [*indices[1:], None]):
        if current != previous + 1:
            first, last = all_versions[start], all_versions[previous]
            runs.append(first if first == last else f'{first}-{last}')
            start = current
    return ', '.join(runs)


def table(releases: dict[str, Release]) -> dict:
    versions = list(releases)
    found: dict[tuple, list[str]] = defaultdict(list)
    for version, release in releases.items():
        prefixes = MODULES + ((f'{PACKAGE}.layers',) if version in LAYERS_RELEASES else ())
        for module in release.modules_under(prefixes):
            for row in release.rows(module):
                found[row.module, row.name, row.kind, row.signature].append(version)
    rows = [
        {'module': m, 'name': n, 'kind': k, 'signature': s, 'releases': ranges(v, versions)}
        for (m, n, k, s), v in found.items()
    ]
    rows.sort(key=lambda r: (r['module'], r['name'], versions.index(r['releases'].split('-')[0].split(',')[0])))
    return {'project': PROJECT, 'releases': versions, 'modules': list(MODULES), 'names': rows}


def write(data: dict, path: Path) -> None:
    """JSON with one row per line, so that a change of the table is a readable diff."""
    lines = [json.dumps(row, ensure_ascii=False) for row in data['names']]
    head = {key: value for key, value in data.items() if key != 'names'}
    text = json.dumps(head, ensure_ascii=False)[:-1] + ', "names": [\n' + ',\n'.join(lines) + '\n]}\n'
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--cache', type=Path, default=Path('~/.cache/dpipe_lightning/deep-pipe').expanduser())
    parser.add_argument('--out', type=Path, default=TABLE)
    arguments = parser.parse_args()
    releases = {}
    for version, entry in release_files().items():
        releases[version] = Release(read_sources(download(entry, arguments.cache)))
        print(f'{version}: {len(releases[version].trees)} modules', file=sys.stderr)
    write(table(releases), arguments.out)
    print(f'wrote {arguments.out}', file=sys.stderr)


if __name__ == '__main__':
    main()

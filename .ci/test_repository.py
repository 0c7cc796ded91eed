"""Checks of the repository itself, for its maintainers: what must agree
between files that no reader's test sees (CONTRIBUTING.md lists them).

    .venv/bin/python -m pytest .ci/test_repository.py

It needs only pytest. CI runs it first, so that a broken cross-reference
fails in seconds, not at the end of the run.
"""
import ast
import re
import subprocess
from pathlib import Path

# .ci/checklist.py: pytest puts this file's folder on sys.path
import checklist
import pytest

ROOT = Path(__file__).resolve().parent.parent

WALKTHROUGH = ROOT / 'WALKTHROUGH.md'
PAGES = [ROOT / 'README.md', ROOT / 'CONTRIBUTING.md', WALKTHROUGH,
         *sorted(ROOT.glob('examples/*/README.md'))]
# Every file a reader copies or a maintainer edits, but the pages themselves.
CODE = [path for path in sorted(ROOT.rglob('*'))
        if path.is_file() and path.suffix in {'.py', '.conf', '.env', '.html', '.ini', '.txt'}
        and not {'.venv', '.nox', 'node_modules', '.git'} & set(path.parts)]
REQUIREMENTS = sorted(ROOT.glob('examples/**/requirements.txt'))
# Fixtures and helpers that several folders must each have, because each
# copies alone: one shape everywhere.
SHARED = {
    'flask_client': ['test_my_app.py', 'examples/conftest.py', 'examples/realapp/conftest.py'],
    'connect': ['test_my_app.py', 'examples/conftest.py', 'examples/realapp/conftest.py'],
    'session_cookie': ['test_my_app.py', 'examples/test_myproject.py'],
    'live_server_and_log': ['test_my_app_live.py', 'examples/conftest.py'],
    'live_server': ['test_my_app_live.py', 'examples/conftest.py'],
    'server_log': ['test_my_app_live.py', 'examples/conftest.py'],
    # and the guard of every app's connect and disconnect handlers
    'from_the_server_only': ['examples/myproject.py', 'examples/realapp/chat.py',
                             'examples/messenger/messenger.py'],
}
if (ROOT / 'examples' / 'messenger').exists():
    for name in 'flask_client', 'connect':
        SHARED[name].append('examples/messenger/conftest.py')


def pins(path):
    """{name: release} of the name==release lines of a requirements file."""
    found = re.findall(r'^([A-Za-z0-9_.-]+)(?:\[[^]]*\])?==(\S+)', path.read_text(), re.MULTILINE)
    return {name.lower(): release for name, release in found}


@pytest.mark.parametrize('path', REQUIREMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_requirements_agree_with_the_root_and_stand_alone(path):
    # complete: a folder copies alone, so no -r ../requirements.txt
    assert not re.search(r'^\s*-r', path.read_text(), re.MULTILINE)
    root = pins(ROOT / 'requirements.txt')
    # every pin the root has is in it, at the root's release
    assert {name: pins(path).get(name) for name in root} == root
    # and a package that two folders pin, they pin alike
    for other in REQUIREMENTS:
        shared = pins(path).keys() & pins(other).keys()
        assert {name: pins(path)[name] for name in shared} == {
            name: pins(other)[name] for name in shared}, other


def definition(path, name):
    """The source of the top-level function called name in path, decorators included."""
    source = path.read_text()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            first = node.decorator_list[0] if node.decorator_list else node
            lines = source.splitlines()[first.lineno - 1:node.end_lineno]
            return '\n'.join(lines)
    raise AssertionError(f'{path} has no function {name}')


@pytest.mark.parametrize('name', SHARED)
def test_fixtures_that_folders_repeat_are_identical(name):
    copies = {file: definition(ROOT / file, name) for file in SHARED[name]}
    first = next(iter(copies.values()))
    assert [file for file, copy in copies.items() if copy != first] == []


def headings(page):
    return re.findall(r'^#+ (.+)$', page.read_text(), re.MULTILINE)


def anchor(heading):
    """The anchor GitHub gives a heading: lowercase, punctuation dropped, spaces to hyphens."""
    return re.sub(r'[^\w\- ]', '', heading.lower()).replace(' ', '-')


def sections():
    return {int(number) for number in re.findall(r'^## (\d+)\.', WALKTHROUGH.read_text(),
                                                 re.MULTILINE)}


CITATION = re.compile(r'WALKTHROUGH\.md,? sections? (\d+)(?: (?:to|and) (\d+))?')


@pytest.mark.parametrize('path', CODE, ids=lambda path: str(path.relative_to(ROOT)))
def test_each_section_a_file_cites_exists(path):
    text = ' '.join(path.read_text().split())  # a citation may wrap across lines
    for first, last in CITATION.findall(text):
        for number in {int(first), int(last or first)}:
            assert number in sections(), f'{path} cites WALKTHROUGH.md, section {number}'
    # a section number without its page could be any page's
    bare = [match.group() for match in re.finditer(r'.{0,40}\bsections? \d+', text)
            if not CITATION.search(match.group())]
    assert bare == [], 'say which page'


@pytest.mark.parametrize('page', PAGES, ids=lambda path: str(path.relative_to(ROOT)))
def test_each_link_to_a_heading_finds_it(page):
    text = page.read_text()
    for target, fragment in re.findall(r'\]\(([\w./-]*)#([\w-]+)\)', text):
        linked = (page.parent / target).resolve() if target else page
        assert fragment in {anchor(heading) for heading in headings(linked)}, \
            f'{page.name} links to {target}#{fragment}'


def fences(page):
    """(info string, lines) of each fenced block of a page."""
    return [(info, body.splitlines()) for info, body in
            re.findall(r'^```([^\n]*)\n(.*?)^```$', page.read_text(), re.MULTILINE | re.DOTALL)]


def words(text):
    return len(text.split())


def test_the_walkthrough_is_within_its_budget():
    text = WALKTHROUGH.read_text()
    outside_folds = re.sub(r'<details>.*?</details>', '', text, flags=re.DOTALL)
    through_part_two = text.split('\n# Part III')[0]
    # words, as `wc -w` counts them; kilobytes
    assert words(text) <= 8000
    assert words(outside_folds) <= 6500
    assert words(through_part_two) <= 5358
    assert len(text.encode()) <= 60 * 1024


@pytest.mark.parametrize('page', PAGES, ids=lambda path: str(path.relative_to(ROOT)))
def test_pages_keep_to_their_budget(page):
    if page.parent.parent == ROOT / 'examples':
        assert words(page.read_text()) <= 2500
    assert max((len(lines) for _, lines in fences(page)), default=0) <= 60


def readme_commands(run):
    """The commands that .ci/run runs with readme_command, as README shows them."""
    return [command for _, command in re.findall(r"""readme_command (['"])(.*?)\1""", run)]


def commands_ci_runs():
    """The lines of .ci/run, README's commands that it runs, and the strings
    of .ci/noxfile.py, such as the command that runs a folder's tests."""
    run = (ROOT / '.ci' / 'run').read_text()
    noxfile = ast.parse((ROOT / '.ci' / 'noxfile.py').read_text())
    return ({line.strip() for line in run.splitlines()}
            | set(readme_commands(run))
            | {node.value for node in ast.walk(noxfile)
               if isinstance(node, ast.Constant) and isinstance(node.value, str)})


@pytest.mark.parametrize('page', PAGES, ids=lambda path: str(path.relative_to(ROOT)))
def test_each_command_a_page_shows_is_one_ci_runs(page):
    for info, lines in fences(page):
        if info == 'sh':
            for line in lines:
                if line.startswith('cd '):  # into a folder that is there
                    assert (page.parent / line[3:]).is_dir(), line
                else:
                    assert line in commands_ci_runs(), f'{page.name} shows a command CI does not run: {line}'


def test_readme_shows_each_command_that_ci_runs_from_it():
    readme = (ROOT / 'README.md').read_text().splitlines()
    run = (ROOT / '.ci' / 'run').read_text()
    for command in readme_commands(run):
        assert command in readme


@pytest.mark.parametrize('test', checklist.BUGS)
def test_each_bug_of_the_checklist_finds_its_text(test):
    for kind, edits in checklist.BUGS[test].items():
        for file, old, new in edits:
            # .ci/checklist.py replaces old with new: it must be there once
            assert (ROOT / file).read_text().count(old) == 1, f'{kind}: {old!r} in {file}'


TOP_LEVEL = {'README.md', 'CONTRIBUTING.md', 'WALKTHROUGH.md', 'requirements.txt', 'conftest.py',
             'my_app.py', 'test_my_app.py', 'test_my_app_live.py', '.gitignore', '.ci', '.github',
             'examples'}


def test_the_top_level_holds_nothing_else():
    tracked = subprocess.run(['git', 'ls-files'], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    assert {path.split('/')[0] for path in tracked} <= TOP_LEVEL

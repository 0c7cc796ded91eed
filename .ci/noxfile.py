"""Run README.md's compatibility table: one nox session per row, and `table`.
Also, not run by default, each on the Python that runs nox: `examples`,
`realapp`, `messenger`, `production` and `browser`, each folder of examples/
copied alone (README: The examples' tests); `checklist`, which puts the bugs
of WALKTHROUGH.md's checklist into the apps; `stopped`, the check that an
interrupted run leaves no server running; `upcoming`, the walkthrough and the
tests on the table's .dev0 row; and `workflow`, the check of the GitHub
workflow. Their docstrings are below.

From the project's root, as README shows:

    python3 -m venv .venv && .venv/bin/pip install nox==2026.10.20 uv==0.13.8 && .venv/bin/nox -f .ci/noxfile.py

Add `-l` to list the sessions, `-s table` to check only the table's own
consistency, `-s row` for every row, or `-s "row(Flask 3.1.3, ...)"` with a
name from the list for one row. The table, between its two marker lines in
README.md, is the only list of rows: each row is a session, and the session
fails when what it sees differs from the row's Result.

Each row gets a fresh virtual environment (made by uv, under .ci/.nox/) with
the row's five releases pinned, pytest, and whatever else the resolver picks
from the releases PyPI had on the table's date (UV_EXCLUDE_NEWER), so the
rows cannot drift as new releases come out. It runs the article's test only:
test_socketio, copied from test_my_app.py into a file of its own beside a copy
of my_app.py, because the rest of test_my_app.py uses newer test-client APIs
than the pattern needs and starts real servers.
"""
import ast
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / 'README.md'
BEGIN = '<!-- compat table: .ci/noxfile.py runs each row -->'
END = '<!-- end of compat table -->'
PACKAGES = ['Flask', 'Werkzeug', 'Flask-Login', 'Flask-SocketIO', 'python-socketio']

nox.options.default_venv_backend = 'uv'
nox.options.download_python = 'never'  # the table's Python, as installed
nox.options.reuse_venv = 'no'  # every row starts from an empty environment
# Without the table's Python, fail rather than skip every row and pass.
nox.options.error_on_missing_interpreters = True


def table_text():
    text = README.read_text(encoding='utf-8')
    if text.count(BEGIN) != 1 or text.count(END) != 1:
        raise SystemExit(f'README.md needs exactly one {BEGIN} and one {END}')
    return text.split(BEGIN)[1].split(END)[0]


def cells(line):
    return [cell.strip() for cell in line.strip().strip('|').split('|')]


def parse_table(text):
    """The stated Python and date, and the rows as dicts keyed by column."""
    stated = re.search(r'Measured on Python (\d+\.\d+)\b.*?(\d{4}-\d\d-\d\d)',
                       text, re.DOTALL)
    lines = [line for line in text.splitlines() if line.startswith('|')]
    header = cells(lines[0])
    rows = [dict(zip(header, cells(line), strict=True)) for line in lines[2:]]
    return stated, header, rows


def pins(row, session):
    """The row's five releases, as requirements."""
    return [unreleased(session, name, row[name]) if '.dev' in row[name] else
            f'{name}=={row[name]}' for name in PACKAGES]


# A .dev0 release in a row is that package's main branch, at the commit that
# README.md's install command for it names ("flask @ git+https://...@<commit>").
# CI installs wheels built from those commits, which it keeps in
# ../shared/upcoming beside the project; a reader's clone installs them from
# git; a machine that has neither skips the row.
UPCOMING = ROOT.parent / 'shared' / 'upcoming'
FROM_GIT = re.compile(r'([\w-]+) @ git\+(https://\S+?)@([0-9a-f]{40})\b')


def unreleased(session, name, version):
    """The requirement for name's release `version`, not yet on PyPI: its wheel
    in ../shared/upcoming, or its commit from git. Skip the session, in one
    line, where neither can be had."""
    commits = {found[0].lower(): found[1:]
               for found in FROM_GIT.findall(README.read_text(encoding='utf-8'))}
    if name.lower() not in commits:
        session.error(f'README.md shows no "{name.lower()} @ git+https://...@<commit>" '
                      f'for {name} {version}')
    url, commit = commits[name.lower()]
    if UPCOMING.is_dir():
        wheels = list(UPCOMING.glob(f'{name.lower().replace("-", "_")}-{version}-*.whl'))
        if len(wheels) != 1 or commit not in (UPCOMING / 'README.md').read_text():
            session.error(f'{UPCOMING} should hold a wheel of {name} {version} built from '
                          f'{commit}, and its README.md name that commit')
        return str(wheels[0])
    # Can git reach the repository? Without a network it fails at once, but
    # behind a firewall that drops packets it may never answer; a missing
    # repository must not ask for a password.
    try:
        probe = subprocess.run(['git', 'ls-remote', url, 'HEAD'], check=False, text=True,
                               capture_output=True, timeout=30,
                               env={**os.environ, 'GIT_TERMINAL_PROMPT': '0'})
        why = ''
        if probe.returncode:
            why = (probe.stderr.strip() or 'git ls-remote failed').splitlines()[-1]
    except (OSError, subprocess.TimeoutExpired) as error:  # no git, or no answer
        why = str(error)
    if why:
        session.skip(f'{name} {version} cannot be had here: no {UPCOMING}, and git says: {why}')
    return f'{name.lower()} @ git+{url}@{commit}'


def row_id(row):
    return ', '.join(f'{name} {row[name]}' for name in PACKAGES)


STATED, HEADER, ROWS = parse_table(table_text())
PYTHON = STATED.group(1) if STATED else None
# Everything the table does not pin is resolved as of the table's date.
os.environ['UV_EXCLUDE_NEWER'] = STATED.group(2) if STATED else ''
os.environ['UV_PYTHON_DOWNLOADS'] = 'never'

ARTICLE_TEST_IMPORT = 'from my_app import app, socketio\n'


def article_test():
    """The article's test function, as test_my_app.py has it, as source text."""
    source = (ROOT / 'test_my_app.py').read_text(encoding='utf-8')
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == 'test_socketio':
            return ast.get_source_segment(source, node)
    raise SystemExit('test_my_app.py has no test_socketio')


def pytest_result(output):
    """A row's Result, from pytest's output when run with --tb=line.

    `passes` when pytest reports `1 passed`. Otherwise the first line pytest
    marks with `E`, in backticks: under --tb=line that is the first line of the
    exception that failed the test or its collection (`assert 0 == 1` for a
    failed assert), less the ` (/path/to/file.py)` Python adds to ImportError.
    """
    for line in output.splitlines():
        if line.startswith('E '):
            return '`' + re.sub(r' \([^()]*\.py\)$', '', line[1:].strip()) + '`'
    if re.search(r'^=* ?1 passed\b', output, re.MULTILINE):
        return 'passes'
    return 'no result: ' + output.strip().splitlines()[-1]


def install_result(output):
    """A row's Result when uv finds no set of releases to install: `won't
    install:` and, in backticks, the first `X depends on Y` uv gives."""
    match = re.search(r'Because (\S+ depends on [^\s,]+)', output)
    return "won't install: `" + (match.group(1) if match else output.strip()) + '`'


@nox.session(venv_backend='none')
def table(session):
    """Check the table itself: its Python, the pinned set, its Fixed in."""
    problems = []
    if PYTHON is None:
        problems.append('the table does not say "Measured on Python X.Y ... '
                        'YYYY-MM-DD" (the Python and the releases date)')
    if HEADER[:len(PACKAGES)] != PACKAGES or HEADER[-2:] != ['Result', 'Fixed in']:
        problems.append(f'columns should be {PACKAGES} + Result, Fixed in: {HEADER}')
    seen = set()
    for row in ROWS:
        if row_id(row) in seen:
            problems.append(f'row listed twice: {row_id(row)}')
        seen.add(row_id(row))

    # requirements.txt's releases of the five are a row that passes.
    required = {}
    for line in (ROOT / 'requirements.txt').read_text().splitlines():
        match = re.match(r'([A-Za-z0-9_.-]+)(?:\[[^]]*\])?==(\S+)', line)
        if match:
            required[match.group(1).lower()] = match.group(2)
    pinned = [required.get(name.lower()) for name in PACKAGES]
    if not any([row[name] for name in PACKAGES] == pinned
               and row['Result'] == 'passes' for row in ROWS):
        problems.append(f'no passing row has requirements.txt\'s {pinned}')

    # A row's "Fixed in" names one release, and the table has the same row
    # with just that release changed, passing.
    for row in ROWS:
        fixed = row['Fixed in']
        if row['Result'] == 'passes':
            if fixed:
                problems.append(f'a passing row has a Fixed in: {row_id(row)}')
            continue
        match = re.fullmatch(r'(\S+) (\S+)', fixed)
        if not match or match.group(1) not in PACKAGES:
            problems.append(f'Fixed in should be "<one of {PACKAGES}> <release>": '
                            f'{fixed!r} in {row_id(row)}')
            continue
        name, version = match.groups()
        if not any(other['Result'] == 'passes'
                   and other[name] == version
                   and all(other[n] == row[n] for n in PACKAGES if n != name)
                   for other in ROWS):
            problems.append(f'no passing row backs Fixed in {fixed} '
                            f'for {row_id(row)}')
    for problem in problems:
        session.warn(problem)
    if problems:
        session.error(f'{len(problems)} problem(s) with the table in README.md')
    session.log(f'{len(ROWS)} rows, measured on Python {PYTHON}; all consistent')


@nox.session(python=PYTHON)
@nox.parametrize('row', [nox.param(row, id=row_id(row)) for row in ROWS])
def row(session, row):
    """Install one row's releases, run the article's test, compare."""
    version = session.run('python', '-c', 'import sys; print(sys.version)',
                          silent=True)
    if PYTHON is None or not version.startswith(PYTHON + '.'):
        session.error(f'the table was measured on Python {PYTHON}, not {version}')
    requirements = pins(row, session) + ['pytest']
    dry_run = session.run('uv', 'pip', 'install', '--dry-run', *requirements,
                          silent=True, success_codes=[0, 1])
    if 'No solution found' in dry_run:
        observed = install_result(dry_run)
    else:
        session.install(*requirements)
        tmp = Path(session.create_tmp())
        shutil.copy(ROOT / 'my_app.py', tmp)
        (tmp / 'pytest.ini').write_text('[pytest]\n')  # no outer config
        (tmp / 'test_article.py').write_text(
            ARTICLE_TEST_IMPORT + '\n\n' + article_test() + '\n')
        session.chdir(tmp)
        output = session.run('python', '-m', 'pytest', '-p', 'no:cacheprovider',
                             '--tb=line', 'test_article.py',
                             silent=True, success_codes=[0, 1, 2])
        observed = pytest_result(output)
    session.log(f'observed: {observed}')
    if observed != row['Result']:
        session.error(f'README.md says {row["Result"]}, observed {observed}')


# The command that runs a folder's tests, from inside it, as README.md shows
# it for this one and each folder's page for its own: every folder copies
# alone, with its own requirements.txt.
TEST_COMMAND = ('python3 -m venv .venv && .venv/bin/pip install -r requirements.txt'
                ' && .venv/bin/python -m pytest')
# The folders of examples/ that a reader copies, and the files of examples/
# that each needs in the folder above it, as in this repository. `examples`
# is the app-factory project at the top of examples/, its files alone.
FOLDERS = {'examples': [], 'realapp': ['live.py'], 'messenger': ['live.py'],
           'production': ['live.py', 'myproject.py'], 'browser': ['live.py', 'myproject.py']}


def copy_alone(session, name):
    """A fresh copy of one folder of examples/ (`main`: of the whole project),
    with only what FOLDERS says it needs beside it, and an empty home folder;
    return both paths."""
    work = Path(session.create_tmp()).resolve() / name  # Firefox refuses a relative HOME
    shutil.rmtree(work, ignore_errors=True)
    for folder in 'copy', 'home', 'bin':
        (work / folder).mkdir(parents=True)
    # `python3` in the folder's command: the Python that runs nox
    (work / 'bin' / 'python3').symlink_to(sys.executable)
    if name == 'main':
        folder = work / 'copy' / 'project'
        shutil.copytree(ROOT, folder, ignore=shutil.ignore_patterns(
            '.git', '.venv*', '.nox', 'node_modules', '__pycache__', '.pytest_cache'))
    elif name == 'examples':
        folder = work / 'copy' / 'myproject'
        folder.mkdir()
        for path in (ROOT / 'examples').iterdir():
            if path.is_file():
                shutil.copy(path, folder)
    else:
        folder = work / 'copy' / name
        shutil.copytree(ROOT / 'examples' / name, folder, ignore=shutil.ignore_patterns(
            'node_modules', '__pycache__', '.pytest_cache', '.venv'))
        for file in FOLDERS[name]:
            shutil.copy(ROOT / 'examples' / file, folder.parent)
    return folder, work / 'home'


def run_folder_command(session, folder, home, command=TEST_COMMAND, **options):
    """Run command, as README.md shows it, in folder, with the Python that runs nox."""
    path = f'{home.parent / "bin"}{os.pathsep}{os.environ["PATH"]}'
    # RUSTUP_HOME: pip asks rustc for its version, for its User-Agent, and
    # rustup's rustc would make ~/.rustup in the empty home folder
    session.run('bash', '-c', command, external=True,
                env={'HOME': str(home), 'PATH': path,
                     'RUSTUP_HOME': str(home.parent / 'rustup'), **options})


def check_home_left_empty(session, home):
    # the servers and browsers leave nothing in a reader's home folder
    left = sorted(str(path.relative_to(home)) for path in home.rglob('*'))
    if left:
        session.error(f'the tests left files in HOME: {left}')


def copied_alone(session, name):
    """Copy the folder alone, run its tests there with its own requirements.txt."""
    folder, home = copy_alone(session, name)
    session.chdir(folder)
    if name == 'browser':
        npm_ci(session, folder, home)
    # the command as shown; each test's name in the log, and -k and the like
    # from nox's command line (`nox -s realapp -- -k news`)
    run_folder_command(session, folder, home,
                       PYTEST_ADDOPTS=shlex.join(['-v', '-p', 'no:cacheprovider', *session.posargs]))
    check_home_left_empty(session, home)


@nox.session(venv_backend='none', default=False)
def examples(session):
    """The app-factory project at the top of examples/, copied alone."""
    copied_alone(session, 'examples')


@nox.session(venv_backend='none', default=False)
def realapp(session):
    """examples/realapp: a module-level app, users in SQLite, a JSON login behind CSRF."""
    copied_alone(session, 'realapp')


@nox.session(venv_backend='none', default=False)
def messenger(session):
    """examples/messenger: an app factory that makes its Redis the message
    queue, class-based namespaces, and two gunicorn processes, all on 127.0.0.1."""
    if shutil.which('redis-server') is None:
        session.error('redis-server not found: the messenger tests run a real one. '
                      'On Debian or Ubuntu: apt-get install redis-server')
    session.run('redis-server', '--version', external=True)
    copied_alone(session, 'messenger')


# The servers the production tests start, and the Debian package of each.
PRODUCTION_PROGRAMS = {'redis-server': 'redis-server', 'nginx': 'nginx'}
# Debian puts nginx in /usr/sbin, which a user's PATH may leave out; the tests'
# production/real_servers.py looks there too.
SBIN_PATH = os.environ.get('PATH', '') + os.pathsep + '/usr/sbin'


def check_production_programs(session):
    missing = [program for program in PRODUCTION_PROGRAMS
               if shutil.which(program, path=SBIN_PATH) is None]
    if missing:
        session.error(f'{" and ".join(missing)} not found: the production tests run the '
                      f'real servers. On Debian or Ubuntu: apt-get install '
                      + ' '.join(PRODUCTION_PROGRAMS[program] for program in missing))
    for program in ['redis-server --version', 'nginx -v']:  # nginx prints to stderr
        session.run(*program.split(), external=True, env={'PATH': SBIN_PATH})


@nox.session(venv_backend='none', default=False)
def production(session):
    """examples/production: gunicorn, a real redis-server and nginx, all on 127.0.0.1."""
    check_production_programs(session)
    copied_alone(session, 'production')


# What the browser tests run, and the Debian package of each.
BROWSER_PROGRAMS = {'/usr/bin/chromium': 'chromium', '/usr/bin/firefox-esr': 'firefox-esr',
                    'npm': 'npm'}
# The browser releases the tests need: Playwright 1.64.1 drives Firefox ESR
# 153 over WebDriver BiDi, and Chromium 156 or newer over CDP.
BROWSER_RELEASES = {'/usr/bin/chromium': ('Chromium', lambda major: major >= 156, '156 or newer'),
                    '/usr/bin/firefox-esr': ('Firefox', lambda major: major == 153, '153.x')}


def check_browsers(session):
    """Fail in one line without a program the browser tests run, or on a
    browser release they cannot drive; print each one's version."""
    missing = [program for program in BROWSER_PROGRAMS if shutil.which(program) is None]
    if missing:
        session.error(f'{" and ".join(missing)} not found: the browser tests run them. '
                      f'On Debian: apt-get install '
                      + ' '.join(BROWSER_PROGRAMS[program] for program in missing))
    for program, (name, fits, needed) in BROWSER_RELEASES.items():
        # stdout only: Debian's chromium wrapper prints a shell warning on stderr
        printed = subprocess.run([program, '--version'], capture_output=True, text=True,
                                 check=True).stdout.strip()
        session.log(printed)
        found = re.search(name + r' (\d+)\.[\d.]+', printed)
        if not found or not fits(int(found.group(1))):
            session.error(f'{program} is {printed!r}; the browser tests need {name} {needed}')
    for program in 'node', 'npm':
        session.run(program, '--version', external=True)


def npm_ci(session, folder, home):
    """socket.io-client, as the folder's package-lock.json pins it, as its page shows."""
    # npm's cache beside the home folder, in the session's own folder
    run_folder_command(session, folder, home, 'npm ci',
                       npm_config_cache=str(home.parent / 'npm-cache'))


@nox.session(venv_backend='none', default=False)
def browser(session):
    """examples/browser: Debian's Chromium and Firefox ESR, against servers on
    127.0.0.1 and 127.0.0.2."""
    check_browsers(session)
    copied_alone(session, 'browser')


@nox.session(default=False)
def checklist(session):
    """WALKTHROUGH.md's checklist: each bug put into a copy of its app, and
    caught by the row's test (.ci/checklist.py)."""
    for name in FOLDERS:
        folder = ROOT / 'examples' / ('' if name == 'examples' else name)
        if (folder / 'requirements.txt').exists():
            session.install('-r', str(folder / 'requirements.txt'))
    session.run('python', str(ROOT / '.ci' / 'checklist.py'))


# When `stopped` signals a suite: seconds after pytest starts its first process
# (a server, or the browser driver), spread over a run, so that servers are
# starting, serving and stopping at one moment or another.
STOP_MOMENTS = {'main': [0.1, 0.3, 0.5, 0.7, 0.9, 1.2],
                'examples': [0.1, 0.3, 0.6, 1],
                'realapp': [0.1, 0.5, 1],
                'messenger': [0.1, 0.5, 1, 2, 4],
                'production': [0.1, 0.5, 1, 2, 4, 7, 10],
                'browser': [0.1, 1, 2, 4, 8]}
# A test of each suite that `stopped` first runs to the end, unsignalled: a
# suite that cannot pass it (an import error, a missing package or file, a
# page whose script is a 404) would leave no process behind either.
STOP_CHECKS = {
    'main': 'test_my_app_live.py::test_live_login_then_connect_over_websocket_gets_the_welcome',
    'examples': 'test_live.py::test_connect_without_login_is_refused',
    'realapp': 'test_chat.py::test_secure_session_cookie_never_comes_back_over_http',
    'messenger': 'test_live.py::test_a_removed_member_hears_nothing_more_on_either_server',
    'production': 'test_production.py::test_room_message_on_one_server_reaches_a_client_of_the_other',
    'browser': 'test_browser.py::test_login_form_then_connect_welcomes_the_user'}


@nox.session(venv_backend='none', default=False)
def stopped(session):
    """Stop each suite with SIGINT, SIGTERM and SIGHUP at several moments, and
    fail if any process it started is still running afterwards, or if it could
    not pass one of its tests unsignalled. Each suite runs in a copy of its
    own, as copied alone, and the suites are installed and run side by side.

    Each check becomes a subreaper (Linux's PR_SET_CHILD_SUBREAPER), so every
    process that its pytest started and left behind becomes its child,
    whatever session it was started in; after pytest exits, any child of the
    check still running is a server or browser the suite failed to stop
    (.ci/stop_at_moments.py).
    """
    suites = session.posargs or list(STOP_MOMENTS)
    if 'browser' in suites:
        check_browsers(session)
    copies = {suite: copy_alone(session, suite) for suite in suites}
    # each suite's environment, as its folder's command makes it, but for pytest
    install = TEST_COMMAND.rsplit(' && ', 1)[0]
    installs = {suite: started(('npm ci && ' if suite == 'browser' else '') + install,
                               folder, home)
                for suite, (folder, home) in copies.items()}
    checks = {}
    for suite, (folder, home) in copies.items():
        if installs[suite].wait():
            session.error(f'{suite}: could not install:\n{(home.parent / "log").read_text()}')
        command = [str(folder / '.venv' / 'bin' / 'python'), '-m', 'pytest', '-q',
                   '-p', 'no:cacheprovider']
        plan = [(suite, command, [], str(folder), STOP_MOMENTS[suite], STOP_CHECKS[suite])]
        checks[suite] = subprocess.Popen(
            [sys.executable, str(ROOT / '.ci' / 'stop_at_moments.py'), json.dumps(plan)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, env={**os.environ, 'HOME': str(home)})
    failed = []
    for suite, check in checks.items():
        session.log(check.communicate()[0])
        if check.returncode:
            failed.append(suite)
    if failed:
        session.error(f'not stopped as they should be: {", ".join(failed)}')


def started(command, folder, home):
    """command, started in folder as run_folder_command() runs it; its Popen.
    It writes to the file `log` beside the home folder."""
    with open(home.parent / 'log', 'w') as log:
        return subprocess.Popen(
            ['bash', '-c', command], cwd=folder, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, 'HOME': str(home),
                 'PATH': f'{home.parent / "bin"}{os.pathsep}{os.environ["PATH"]}',
                 'RUSTUP_HOME': str(home.parent / 'rustup'),
                 'npm_config_cache': str(home.parent / 'npm-cache')})


@nox.session(default=False)
def upcoming(session):
    """The walkthrough's examples, then README's tests, on the .dev0 row's
    releases: requirements.txt installed, then those releases over it."""
    upcoming_row = next((row for row in ROWS if '.dev' in row['Flask']), None)
    if upcoming_row is None:
        session.error("README.md's table has no row of Flask's next release (.dev0)")
    requirements = [unreleased(session, name, upcoming_row[name])
                    for name in PACKAGES if '.dev' in upcoming_row[name]]
    session.install('-r', str(ROOT / 'requirements.txt'))
    session.install(*requirements)
    session.chdir(ROOT)
    session.run('python', '-m', 'doctest', 'WALKTHROUGH.md')  # every difference, not the first
    session.run('python', '-m', 'pytest', '-p', 'no:cacheprovider', '-q')


WORKFLOW = ROOT / '.github' / 'workflows' / 'tests.yml'


@nox.session(default=False)
def workflow(session):
    """The GitHub Actions workflow readers copy: valid against GitHub's schema
    (check-jsonschema's copy of it), clean for zizmor, and running only what CI
    runs: each `run:` a line of .ci/run or of a README whose commands CI runs,
    and each apt-get one installing only packages that .ci/run installs."""
    session.install('check-jsonschema==0.39.0', 'zizmor==1.32.0')
    session.run('check-jsonschema', '--builtin-schema', 'vendor.github-workflows', str(WORKFLOW))
    session.run('zizmor', '--offline', str(WORKFLOW))
    ci_run = (ROOT / '.ci' / 'run').read_text()
    lines = {line.strip() for path in [README, *ROOT.glob('examples/*/README.md')]
             for line in path.read_text(encoding='utf-8').splitlines()}
    lines.update(line.strip() for line in ci_run.splitlines())
    # what .ci/run installs: `missing="$missing PACKAGE"`, or `apt_install PACKAGE`
    packages = re.findall(r'(?:missing="\$missing |apt_install )([a-z0-9][a-z0-9.+-]+)', ci_run)
    workflow_text = WORKFLOW.read_text()
    # one line each: a `run: |` block fails here, as `|` is no command
    commands = re.findall(r'^\s*(?:- )?run: (.*)$', workflow_text, re.MULTILINE)
    problems = []
    # the Pythons of README's table (.ci/pythons), in the matrix of the tests job
    table = README.read_text(encoding='utf-8').split('<!-- pythons table')[1].split('<!-- end')[0]
    pythons = re.findall(r'^\| (\d+\.\d+) \|', table, re.MULTILINE)
    matrix = re.search(r"^\s*python: \[(.*)\]$", workflow_text, re.MULTILINE)
    if not matrix or re.findall(r"'([\d.]+)'", matrix.group(1)) != pythons:
        problems.append(f"tests job's python: should be README's Pythons, {pythons}")
    for command in commands:
        apt = re.fullmatch(r'apt-get update && apt-get install -y '
                           r'--no-install-recommends ([a-z0-9.+ -]+)', command)
        if apt:
            problems += [f'installs {name}, which .ci/run does not'
                         for name in apt.group(1).split() if name not in packages]
        elif command not in lines:
            problems.append(f'runs what CI does not: {command}')
    for problem in problems:
        session.warn(f'{WORKFLOW.name} {problem}')
    if problems or not commands:
        session.error(f'{len(problems)} problem(s) in {WORKFLOW.name}, {len(commands)} run: steps')
    session.log(f'{len(commands)} run: steps, each one CI runs')

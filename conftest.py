"""pytest's settings for this folder. `pytest` runs test_my_app.py, and two
checks of WALKTHROUGH.md: its >>> examples, and its excerpts of examples/.
The project in examples/ has suites of its own (README.md)."""
import re
import signal

import pytest

collect_ignore = ['examples']

# A CI timeout or a process manager stops pytest with SIGTERM, a closed
# terminal with SIGHUP: let them end the run as Ctrl+C does, so that every
# fixture still stops the servers it started.
signal.signal(signal.SIGTERM, signal.default_int_handler)
if hasattr(signal, 'SIGHUP'):  # not on Windows
    signal.signal(signal.SIGHUP, signal.default_int_handler)

# A fence that names a file of examples/: ```python examples/live.py
EXCERPT = re.compile(r'^```\w+ (examples/\S+)\n(.*?)^```$', re.MULTILINE | re.DOTALL)


def pytest_configure(config):
    # The >>> examples, as one test that runs them in order and names the line
    # of a failure: pytest's own doctest support, as --doctest-glob asks for it.
    config.option.doctestglob = [*(config.option.doctestglob or []), 'WALKTHROUGH.md']


def pytest_collect_file(file_path, parent):
    if file_path.name == 'WALKTHROUGH.md':
        return Excerpts.from_parent(parent, path=file_path)
    return None


class Excerpts(pytest.File):
    """One test per excerpt: it is a slice of whole lines of the file it names."""
    def collect(self):
        text = self.path.read_text(encoding='utf-8')
        for match in EXCERPT.finditer(text):
            line = text.count('\n', 0, match.start()) + 1
            yield Excerpt.from_parent(self, name=f'line {line}: {match.group(1)}',
                                      file=self.path.parent / match.group(1),
                                      excerpt=match.group(2))


class Excerpt(pytest.Item):
    def __init__(self, *, file, excerpt, **kwargs):
        super().__init__(**kwargs)
        self.file, self.excerpt = file, excerpt

    def runtest(self):
        lines = self.file.read_text(encoding='utf-8')
        assert '\n' + self.excerpt in '\n' + lines, f'{self.name} is not in {self.file} as shown'

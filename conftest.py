"""pytest's settings for this folder. `pytest` runs test_my_app.py,
test_my_app_live.py, and two checks of the guide: WALKTHROUGH.md's >>>
examples, and each excerpt that it and examples/*/README.md show of a file.
The project in examples/ has suites of its own (README.md)."""
import re
from pathlib import Path

import pytest

from examples.live import interrupt_on_stop_signals

collect_ignore = ['examples']
interrupt_on_stop_signals()

# A fence that names a file, relative to the page it is on: ```python examples/live.py
EXCERPT = re.compile(r'^```\w+ ([\w./-]+)\n(.*?)^```$', re.MULTILINE | re.DOTALL)
PAGES = ['WALKTHROUGH.md', *sorted(str(path) for path in Path(__file__).parent.glob('examples/*/README.md'))]


def pytest_configure(config):
    # The >>> examples, as one test that runs them in order and names the line
    # of a failure: pytest's own doctest support, as --doctest-glob asks for it.
    config.option.doctestglob = [*(config.option.doctestglob or []), 'WALKTHROUGH.md']


def pytest_collect_file(file_path, parent):
    if file_path.name == 'WALKTHROUGH.md':
        return Excerpts.from_parent(parent, path=file_path)
    return None


class Excerpts(pytest.File):
    """One test per excerpt of the guide's pages: a slice of whole lines of the file it names."""
    def collect(self):
        for page in PAGES:
            page = self.path.parent / page
            text = page.read_text(encoding='utf-8')
            for match in EXCERPT.finditer(text):
                line = text.count('\n', 0, match.start()) + 1
                name = f'{page.relative_to(self.path.parent)} line {line}: {match.group(1)}'
                yield Excerpt.from_parent(self, name=name, file=page.parent / match.group(1),
                                          excerpt=match.group(2))


class Excerpt(pytest.Item):
    def __init__(self, *, file, excerpt, **kwargs):
        super().__init__(**kwargs)
        self.file, self.excerpt = file, excerpt

    def runtest(self):
        lines = self.file.read_text(encoding='utf-8')
        assert '\n' + self.excerpt in '\n' + lines, f'{self.name} is not in {self.file} as shown'

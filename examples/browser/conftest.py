import contextlib
import os
import threading

import pytest
from pages import create_elsewhere, create_site
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from live import interrupt_on_stop_signals, signals_held

interrupt_on_stop_signals()

# Debian's browsers, not builds of Playwright's own: nothing is downloaded.
BROWSERS = {
    # Playwright adds the switches a test run needs: --no-sandbox, without which
    # Chromium does not start as root (chromium.ts, in playwright-core), and
    # --disable-background-networking, --disable-sync and the like (chromiumSwitches.ts)
    'chromium': {'executable_path': '/usr/bin/chromium'},
    # Firefox's own WebDriver BiDi, which Playwright 1.64 drives as 'moz-firefox'
    'firefox': {'executable_path': '/usr/bin/firefox-esr', 'channel': 'moz-firefox'},
}


@pytest.fixture(scope='session', params=BROWSERS)
def browser(request, tmp_path_factory):
    """Each browser in turn, started once for all the tests."""
    # a home folder of its own, for the crash reports and caches it makes there
    env = {**os.environ, 'HOME': str(tmp_path_factory.mktemp(request.param))}
    # Playwright and its stop, which closes the browser too, or neither. Not a
    # yield: a stop signal just after a fixture's yield loses its teardown
    # (pytest's call_fixture_func), and a Playwright left running can keep
    # Python from exiting.
    with signals_held():
        playwright = sync_playwright().start()
        request.addfinalizer(playwright.stop)
    return getattr(playwright, request.param).launch(**BROWSERS[request.param], env=env)


@pytest.fixture
def page(browser):
    """A page in a new context of the browser: no cookies from an earlier test."""
    context = browser.new_context()
    yield context.new_page()
    context.close()


@contextlib.contextmanager
def serving(app, host='127.0.0.1'):
    """Serve app on a free port of host, in threads, for the with block; yield its URL."""
    # what socketio.run() starts: Werkzeug's server, a thread per connection.
    # A daemon thread: should a stop signal cut the teardown short, it does not
    # keep the run from exiting.
    server = make_server(host, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f'http://{host}:{server.server_port}'
    finally:
        with signals_held():  # a signal now would leave the server running
            server.shutdown()
            thread.join()
            server.server_close()


@pytest.fixture
def start_site():
    """start_site(**config) serves myproject's app and its page, with config
    added to the test config, and returns its URL. One site at a time: each
    create_app() gives myproject's socketio a server of its own."""
    with contextlib.ExitStack() as stack:
        def start_site(**config):
            # over http: a Secure cookie would not come back from 127.0.0.1
            app = create_site({'SECRET_KEY': 'a key for the browser tests',
                               'SESSION_COOKIE_SECURE': False, **config})
            return stack.enter_context(serving(app))

        yield start_site


@pytest.fixture(scope='session')
def elsewhere():
    """The URL of another origin's page: on another port of the same site, and on another site."""
    app = create_elsewhere()
    with serving(app) as same_site, serving(app, '127.0.0.2') as other_site:
        yield {'same site': same_site, 'another site': other_site}

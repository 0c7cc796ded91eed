import re
import sys
from pathlib import Path

import pytest

import myproject
from live import interrupt_on_stop_signals, no_traceback_logged, printed_url, running
from myproject import create_app, socketio

# Each folder below is a project of its own, with its own packages and
# suite, run from inside it (WALKTHROUGH.md, sections 14 to 17).
collect_ignore = ['browser', 'messenger', 'production', 'realapp']
interrupt_on_stop_signals()

# The live server: `flask run` on a free port, with the settings it reads.
LIVE_COMMAND = [sys.executable, '-m', 'flask', '--app', 'myproject:create_app()',
                'run', '--port', '0']
LIVE_ENV = {
    'SECRET_KEY': 'a key for the live tests',
    'SESSION_COOKIE_SECURE': 'false',  # over http, requests sends back no Secure cookie
    'PROXY_FIX_X_FOR': '1',  # the tests send X-Forwarded-For, as nginx would
    # A polling client's disconnect() now and then waits for the long-poll
    # its reader has open, which the server ends at its next ping: 1 s, not 25.
    'SOCKETIO_PING_INTERVAL': '1',
    # a transport without a namespace is closed after 1 s, not 5
    'SOCKETIO_CONNECT_TIMEOUT': '1',
}


@pytest.fixture
def flask_app():
    # Not named `app`: pytest-flask, if installed, pushes a request context
    # around every test that uses a fixture of that name (WALKTHROUGH.md, section 6).
    return create_app({
        'TESTING': True,  # an exception in a route reaches the test, not a 500
        'SECRET_KEY': 'a key for the tests',
        'SOCKETIO_MESSAGE_QUEUE': None,  # the Socket.IO test client refuses a queue
    })


@pytest.fixture
def flask_client(flask_app):
    return flask_app.test_client()


@pytest.fixture
def connect(flask_app):
    """Open Socket.IO test clients linked to a Flask client; close them all at the end."""
    opened = []

    def connect(flask_client, namespace='/', **options):
        client = socketio.test_client(
            flask_app, namespace=namespace, flask_test_client=flask_client, **options)
        opened.append(client)
        return client

    yield connect
    for client in opened:
        # every namespace still open, those of a later client.connect() too;
        # `connected` is the test client's own record, which its docs leave out
        for namespace, is_open in list(client.connected.items()):
            if is_open:
                client.disconnect(namespace)


@pytest.fixture
def csrf_token():
    """csrf_token(client) reads the CSRF token that the login page puts in its
    form, as a browser does. client is a Flask test client, or a
    requests.Session with the live server's url."""
    def csrf_token(client, url=''):
        page = client.get(url + '/login').text
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    return csrf_token


@pytest.fixture
def login(csrf_token):
    """Log in through the login page's form, as python unless told otherwise."""
    def login(client, username='python', password='is-great!', url=''):
        return client.post(url + '/login', data={
            'username': username, 'password': password, 'csrf_token': csrf_token(client, url)})

    return login


@pytest.fixture
def logout(csrf_token):
    """Log out through /logout, with the CSRF token a page would send."""
    def logout(client, url=''):
        return client.post(url + '/logout', data={'csrf_token': csrf_token(client, url)})

    return logout


@pytest.fixture
def python_and_foo(flask_app, connect, login):
    """Socket.IO test clients of python and foo, both logged in, their welcomes read."""
    python_client, foo_client = flask_app.test_client(), flask_app.test_client()
    login(python_client)
    login(foo_client, 'foo', 'bar')
    python, foo = connect(python_client), connect(foo_client)
    assert len(python.get_received()) == len(foo.get_received()) == 1
    return python, foo


@pytest.fixture(autouse=True)
def nothing_on_record():
    # The records outlive the app: a client opened without the connect
    # fixture, or a teardown that failed, would leave entries for the next test.
    myproject.logins.clear()
    myproject.connections.clear()


@pytest.fixture(scope='module')
def live_server_and_log(tmp_path_factory):
    """The app on a real server, started with LIVE_COMMAND and LIVE_ENV, for
    one test module: its URL, and the file it logs to."""
    log_path = tmp_path_factory.mktemp('live_server') / 'server.log'
    with running(LIVE_COMMAND, log_path, cwd=Path(__file__).parent, env=LIVE_ENV) as server:
        yield printed_url(server, log_path), log_path
    # what a test's own check could not see: the server may log after a test ends
    assert 'Traceback' not in log_path.read_text()


@pytest.fixture
def live_server(live_server_and_log):
    """The live server's URL, for one test: a traceback in its part of the log is its error."""
    url, log_path = live_server_and_log
    with no_traceback_logged(log_path):
        yield url


@pytest.fixture
def server_log(live_server_and_log):
    """The file the live server logs to."""
    return live_server_and_log[1]

"""Tests of my_app.py on a real server: `python my_app.py`, started as a
reader starts it, and driven by real clients over WebSocket. It needs
examples/live.py, which starts the server on a free port and stops it."""
import secrets
import sys
import time
from pathlib import Path

import pytest
import requests
import socketio as python_socketio  # the client package; `socketio` is the app's
import websocket
from werkzeug.serving import WSGIRequestHandler

# examples/live.py; in your project, `from live import ...` with live.py beside your tests
from examples.live import live_client, no_traceback_logged, printed_url, running
from my_app import app, socketio
from test_my_app import login, session_cookie

LIVE_SECRET_KEY = secrets.token_hex()
# The server the live tests run, as a reader starts it; PORT=0: it takes a
# free port itself and prints its URL.
LIVE_COMMAND = [sys.executable, 'my_app.py']
LIVE_ENV = {'PORT': '0', 'SECRET_KEY': LIVE_SECRET_KEY}


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


def connect_error(url, session=None, **websocket_options):
    """Connect over WebSocket, then disconnect; return the error if refused, else None."""
    with live_client(session, **websocket_options) as client:
        try:
            client.connect(url, transports=['websocket'])
        except python_socketio.exceptions.ConnectionError as error:
            return str(error)
    return None


# What connect() raises when the connect handler says no: the WebSocket itself
# opened, so this is the app refusing, not a server that is down.
REFUSED_BY_THE_APP = 'One or more namespaces failed to connect: /'


def raw_websocket(url, **options):
    """A bare WebSocket to the server's Socket.IO endpoint, past Engine.IO's open packet."""
    ws = websocket.create_connection(
        url.replace('http', 'ws', 1) + '/socket.io/?EIO=4&transport=websocket', **options)
    ws.recv()  # Engine.IO's open packet: 0{"sid":...}
    return ws


def closed_websocket(url):
    """A raw WebSocket to the server at url, after both sides sent their close frames."""
    ws = raw_websocket(url)
    ws.send_close()
    # the server answers our close frame with its own
    assert ws.recv_frame().opcode == websocket.ABNF.OPCODE_CLOSE
    return ws


def test_live_server_keeps_the_tcp_connection_open_after_a_websocket_closes(
        live_server):
    ws = closed_websocket(live_server)
    try:
        ws.sock.settimeout(0.05)
        # the server does not hang up: recv() would return b'' if it did
        with pytest.raises(TimeoutError):
            ws.sock.recv(1)
    finally:
        ws.shutdown()
    # nor will it later: it waits for a next request on that connection with
    # no time limit (socketserver applies a timeout only when one is set)
    assert WSGIRequestHandler.timeout is None


def test_live_server_reads_what_follows_a_websocket_as_a_new_request(
        live_server, server_log):
    ws = closed_websocket(live_server)
    ws.sock.sendall(b'hello\r\n')
    ws.shutdown()
    # Werkzeug logs its 400 answer as "method path version": the method None,
    # the path still this WebSocket's (python-socketio's clients put transport=
    # first), then the HTTP version, which depends on the Python
    answer = 'None /socket.io/?EIO=4&transport=websocket '
    deadline = time.monotonic() + 5
    while answer not in server_log.read_text() and time.monotonic() < deadline:
        time.sleep(0.01)  # not logged yet: look again
    log = server_log.read_text()
    # it parsed the bytes as an HTTP request line, and logged them as bad
    assert "code 400, message Bad request syntax ('hello')" in log
    assert answer in log


def test_live_connect_without_login_is_refused(live_server):
    # the connect handler refuses a client that has no session
    assert connect_error(live_server) == REFUSED_BY_THE_APP


def test_live_login_then_connect_over_websocket_gets_the_welcome(live_server):
    session = requests.Session()
    # the login succeeds, and session keeps the cookie it sets
    assert login(session, url=live_server).status_code == 200
    with live_client(session) as client:
        client.connect(live_server, transports=['websocket'])
        # a real WebSocket, not long-polling
        assert client.transport == 'websocket'
        # the server welcomes the user that the cookie names
        assert client.receive(timeout=5) == ['welcome', {'username': 'python'}]


def test_live_server_sends_one_welcome_then_confirms_the_connect(live_server):
    session = requests.Session()
    assert login(session, url=live_server).status_code == 200
    ws = raw_websocket(live_server, cookie='session=' + session.cookies['session'])
    try:
        ws.send('40')  # Socket.IO's request to join the namespace /
        # the server confirms a connect once its handler has returned, so what
        # the handler emitted comes before: exactly one welcome
        assert ws.recv() == '42["welcome",{"username":"python"}]'
        assert ws.recv().startswith('40{"sid":')
    finally:
        ws.close(timeout=0)


def test_live_wrong_password_is_401_and_the_connect_is_still_refused(live_server):
    session = requests.Session()
    # the login is refused
    assert login(session, 'python', 'wrong', url=live_server).status_code == 401
    # and the session it leaves gets no Socket.IO connection
    assert connect_error(live_server, session) == REFUSED_BY_THE_APP


def test_live_server_refuses_a_foreign_origin_that_the_test_client_lets_in(live_server):
    session = requests.Session()
    assert login(session, url=live_server).status_code == 200
    # from a page on another site, the server refuses the WebSocket itself
    assert connect_error(live_server, session,
                         origin='https://elsewhere.example') == 'Connection error'
    # from the server's own origin, the same session gets in
    assert connect_error(live_server, session, origin=live_server) is None
    # while the test client makes no such check: the foreign origin gets in
    flask_client = app.test_client()
    login(flask_client)
    client = socketio.test_client(app, flask_test_client=flask_client,
                                  headers={'Origin': 'https://elsewhere.example'})
    assert client.is_connected()
    client.disconnect()


def test_live_server_signs_sessions_with_the_secret_key_in_its_environment(
        live_server):
    signed_with_its_key = requests.Session()
    signed_with_its_key.cookies['session'] = session_cookie(
        'python', LIVE_SECRET_KEY)
    signed_with_article_key = requests.Session()
    signed_with_article_key.cookies['session'] = session_cookie(
        'python', 'top secret!')
    # a session signed with the SECRET_KEY the server was started with gets in
    assert connect_error(live_server, signed_with_its_key) is None
    # one signed with the article's key, the fallback, does not
    assert connect_error(live_server, signed_with_article_key) == REFUSED_BY_THE_APP


def test_live_logout_refuses_the_next_connection(live_server):
    session = requests.Session()
    assert login(session, url=live_server).status_code == 200
    assert connect_error(live_server, session) is None
    # the logout succeeds, and the session cookie is cleared
    assert session.post(live_server + '/logout').status_code == 200
    assert 'session' not in session.cookies
    # so the next connection is refused
    assert connect_error(live_server, session) == REFUSED_BY_THE_APP


@pytest.mark.parametrize('user_id', [
    pytest.param(['python'], id='a list'),
    pytest.param({'python': 'is-great!'}, id='a dict'),
])
def test_live_session_whose_user_id_is_not_a_string_is_refused_plainly(
        live_server, server_log, user_id):
    session = requests.Session()
    session.cookies['session'] = session_cookie(user_id, LIVE_SECRET_KEY)
    # the app's own refusal, not "Unexpected connection error"
    assert connect_error(live_server, session) == REFUSED_BY_THE_APP
    # and the server logged no traceback
    assert 'Traceback' not in server_log.read_text()

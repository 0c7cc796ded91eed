"""Tests for my_app.py: run `python -m pytest`, or `python test_my_app.py`.

First the article's own test, then what a careful reader checks next, then
the walkthrough's examples, and last the real server driven by a real client.
"""
import doctest
import os
import queue
import re
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import pytest
import requests
import socketio as python_socketio  # the client package; `socketio` is the app's
import websocket
from flask import Flask

from my_app import allowed_users, app, socketio

pytest_plugins = ['pytester']  # runs WALKTHROUGH.md's listings as a project of their own


# The article's test, word for word but for its name: pytest collects only
# functions whose names start with `test`.
def test_socketio():
    # log the user in through Flask test client
    flask_test_client = app.test_client()

    # connect to Socket.IO without being logged in
    socketio_test_client = socketio.test_client(
        app, flask_test_client=flask_test_client)

    # make sure the server rejected the connection
    assert not socketio_test_client.is_connected()

    # log in via HTTP
    r = flask_test_client.post('/login', data={
        'username': 'python', 'password': 'is-great!'})
    assert r.status_code == 200

    # connect to Socket.IO again, but now as a logged in user
    socketio_test_client = socketio.test_client(
        app, flask_test_client=flask_test_client)

    # make sure the server accepted the connection
    r = socketio_test_client.get_received()
    assert len(r) == 1
    assert r[0]['name'] == 'welcome'
    assert len(r[0]['args']) == 1
    assert r[0]['args'][0] == {'username': 'python'}


def login(client, username='python', password='is-great!', url=''):
    """Log in through the app's /login route and return the response.

    client is a Flask test client, or a requests.Session with the server's url.
    """
    return client.post(url + '/login', data={
        'username': username, 'password': password})


def session_cookie(user_id, secret_key):
    """A Flask session cookie saying user_id is logged in, signed with secret_key."""
    signer = Flask(__name__)
    signer.secret_key = secret_key
    serializer = signer.session_interface.get_signing_serializer(signer)
    return serializer.dumps({'_user_id': user_id})


@pytest.fixture
def flask_client():
    return app.test_client()


@pytest.fixture
def connect():
    """Open Socket.IO test clients linked to a Flask client; close them all at the end."""
    clients = []

    def connect(flask_client, **options):
        client = socketio.test_client(
            app, flask_test_client=flask_client, **options)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        if client.is_connected():
            client.disconnect()


@pytest.mark.parametrize(('username', 'password'), [
    pytest.param('python', 'wrong', id='wrong password'),
    pytest.param('nobody', 'is-great!', id='unknown user'),
    pytest.param('Python', 'is-great!', id='user names are case-sensitive'),
    pytest.param('python', 'bar', id="another user's password"),
])
def test_bad_credentials_get_401_and_socketio_stays_refused(
        flask_client, connect, username, password):
    # the login is refused
    assert login(flask_client, username, password).status_code == 401
    # and Socket.IO, through that same Flask client, still refuses
    assert not connect(flask_client).is_connected()


@pytest.mark.parametrize('request_options', [
    pytest.param({'data': {'password': 'is-great!'}}, id='no username'),
    pytest.param({'data': {'username': 'python'}}, id='no password'),
    pytest.param({}, id='no form at all'),
    pytest.param({'json': {'username': 'python', 'password': 'is-great!'}},
                 id='JSON, not a form'),
])
def test_malformed_logins_get_400_and_log_nobody_in(
        flask_client, connect, request_options):
    # the request is rejected as malformed, not as a server error
    assert flask_client.post('/login', **request_options).status_code == 400
    # and nobody is logged in
    assert not connect(flask_client).is_connected()


def test_second_user_is_welcomed_by_their_own_name(flask_client, connect):
    assert login(flask_client, 'foo', 'bar').status_code == 200
    received = connect(flask_client).get_received()
    # one welcome, naming foo
    assert len(received) == 1
    assert received[0]['name'] == 'welcome'
    assert received[0]['args'] == [{'username': 'foo'}]


def test_refused_client_gets_in_after_login_when_connect_is_called_again(
        flask_client, connect):
    client = connect(flask_client)
    # refused before login
    assert not client.is_connected()
    login(flask_client)
    # logging in does not reconnect the Socket.IO client by itself
    assert not client.is_connected()
    # connect() reads the Flask client's cookies again, so now it gets in
    client.connect()
    received = client.get_received()
    assert len(received) == 1
    assert received[0]['args'] == [{'username': 'python'}]


def test_user_removed_from_allowed_users_is_refused_at_next_connect(
        flask_client, connect):
    login(flask_client, 'foo', 'bar')
    # while foo is allowed, their session gets them in
    assert connect(flask_client).is_connected()
    with mock.patch.dict(allowed_users):  # puts allowed_users back afterwards
        del allowed_users['foo']
        # the cookie still names foo, but the user_loader no longer knows them
        assert not connect(flask_client).is_connected()


def test_logout_refuses_the_next_connection(flask_client, connect):
    login(flask_client)
    assert connect(flask_client).is_connected()
    response = flask_client.post('/logout')
    # the logout succeeds with an empty body, as the login does
    assert response.status_code == 200
    assert response.data == b''
    # and a connection opened after it is refused
    assert not connect(flask_client).is_connected()


def test_logout_without_a_session_is_harmless(flask_client, connect):
    response = flask_client.post('/logout')
    # nobody to log out is not an error
    assert response.status_code == 200
    # and it leaves no cookie behind that could get in the way of a login
    assert flask_client.get_cookie('session') is None
    login(flask_client)
    assert connect(flask_client).is_connected()


GENUINE_COOKIE = session_cookie('python', app.secret_key)


def test_a_genuine_session_cookie_gets_in(flask_client, connect):
    # the cookie made by session_cookie() gets in, so the refusals below are
    # about the cookies themselves, not about how they are made or sent
    flask_client.set_cookie('session', GENUINE_COOKIE)
    assert connect(flask_client).is_connected()


@pytest.mark.parametrize('cookie', [
    # one byte of the signed data changed (it starts 'eyJ', or '.eJ')
    pytest.param(GENUINE_COOKIE.replace('e', 'f', 1), id='tampered'),
    pytest.param(session_cookie('python', 'not the secret key'),
                 id='signed with another key'),
    # correctly signed, but not naming a user in allowed_users
    pytest.param(session_cookie('mallory', app.secret_key), id='unknown user'),
    pytest.param(session_cookie('', app.secret_key), id='empty user id'),
    pytest.param(session_cookie(['python'], app.secret_key),
                 id='user id is a list'),
    pytest.param(session_cookie({'python': 'is-great!'}, app.secret_key),
                 id='user id is a dict'),
])
def test_forged_and_tampered_session_cookies_are_refused(
        flask_client, connect, cookie):
    flask_client.set_cookie('session', cookie)
    # refused, and with no exception from the user_loader
    assert not connect(flask_client).is_connected()


def test_walkthrough():
    # every >>> example in WALKTHROUGH.md prints what the file says it prints
    failed, attempted = doctest.testfile('WALKTHROUGH.md')
    assert attempted > 0
    assert failed == 0, f'{failed} of {attempted} examples failed, shown above'


def copy_walkthrough_listings(folder):
    """Write the files that WALKTHROUGH.md lists into folder; return their names.

    A listing is a fence that names its file: ```python conftest.py
    """
    text = Path(app.root_path, 'WALKTHROUGH.md').read_text()
    listings = re.findall(r'^```python (\S+\.py)\n(.*?)^```$', text, re.MULTILINE | re.DOTALL)
    for name, code in listings:
        Path(folder, name).write_text(code)
    return sorted(name for name, code in listings)


def test_walkthrough_listings_pass_their_own_tests(pytester):
    # the three files a reader copies into an empty folder...
    assert copy_walkthrough_listings(pytester.path) == [
        'conftest.py', 'myproject.py', 'test_myproject.py']
    # ...pass their own tests there
    pytester.runpytest_inprocess().assert_outcomes(passed=4)


# The real server, driven by a real client: what the test clients stand in for.

def start_servers(*secret_keys, log_path=os.devnull):
    """Run `python my_app.py` once per key, as a reader does, with no terminal.

    The servers start side by side, each on a free port. Returns a (process,
    url) pair per key once all of them answer; stop each with terminate().
    What they print goes to the file at log_path.
    """
    servers = []
    with open(log_path, 'w') as log:
        for secret_key in secret_keys:
            with socket.socket() as probe:  # let the system pick a port that is free
                probe.bind(('127.0.0.1', 0))
                port = probe.getsockname()[1]
            server = subprocess.Popen(
                [sys.executable, 'my_app.py'], cwd=app.root_path,
                env={**os.environ, 'PORT': str(port), 'SECRET_KEY': secret_key},
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            servers.append((server, f'http://127.0.0.1:{port}'))
    deadline = time.monotonic() + 10
    for server, url in servers:
        while server.poll() is None and time.monotonic() < deadline:
            try:
                requests.head(url, timeout=1)  # any answer, even 404, means it is up
                break
            except requests.ConnectionError:
                time.sleep(0.01)  # not up yet: ask again
        else:  # it exited, or the deadline passed: stop them all, show the log
            for server_to_stop, _ in servers:
                server_to_stop.terminate()
                server_to_stop.wait()
            with open(log_path) as log:
                raise RuntimeError(f'python my_app.py did not answer on {url}:\n'
                                   + log.read())
    return servers


def start_server(secret_key, log_path=os.devnull):
    """start_servers() for a single key: returns its process and URL."""
    [(server, url)] = start_servers(secret_key, log_path=log_path)
    return server, url


LIVE_SECRET_KEY = secrets.token_hex()


@pytest.fixture(scope='module')
def server_log(tmp_path_factory):
    """The file the live server writes its log to."""
    return tmp_path_factory.mktemp('live_server') / 'server.log'


@pytest.fixture(scope='module')
def live_server(server_log):
    """The URL of `python my_app.py`, started once for the live tests."""
    server, url = start_server(LIVE_SECRET_KEY, server_log)
    yield url
    server.terminate()
    server.wait()
    # bad input gets a plain answer, never a traceback in the server's log
    assert 'Traceback' not in server_log.read_text()


class WebSocketClosingAtOnce(websocket.WebSocket):
    """A client WebSocket whose close() sends its close frame and hangs up.

    By default close() then waits up to 3 s for the server's close frame, but
    the client's own reader thread has already taken that frame, and
    Werkzeug's development server keeps the connection open (see the first
    live test), so every disconnect, and every refused connect, costs 3 s.
    """
    def close(self, status=websocket.STATUS_NORMAL, reason=b'', timeout=0):
        super().close(status, reason, timeout)


@pytest.fixture
def live_client():
    """Make python-socketio clients that send a requests.Session's cookies.

    origin is the Origin header of a client's WebSocket; None sends the
    server's own. Every client made is disconnected at the end.
    """
    clients = []

    def live_client(session=None, origin=None):
        client = python_socketio.Client(http_session=session, websocket_extra_options={
            'class_': WebSocketClosingAtOnce, 'origin': origin})
        clients.append(client)
        return client

    yield live_client
    for client in clients:
        client.shutdown()  # disconnects a client that is still connected


def connect_error(client, url):
    """Connect over WebSocket; return the error if refused, else None."""
    try:
        client.connect(url, transports=['websocket'])
    except python_socketio.exceptions.ConnectionError as error:
        return str(error)
    client.disconnect()
    return None


# What connect() raises when the connect handler says no: the WebSocket itself
# opened, so this is the app refusing, not a server that is down.
REFUSED_BY_THE_APP = 'One or more namespaces failed to connect: /'


def closed_websocket(url):
    """A raw WebSocket to the server at url, after both sides sent their close frames."""
    ws = websocket.create_connection(
        url.replace('http', 'ws', 1) + '/socket.io/?EIO=4&transport=websocket')
    ws.recv()  # Engine.IO's open packet
    ws.send_close()
    # the server answers our close frame with its own
    assert ws.recv_frame().opcode == websocket.ABNF.OPCODE_CLOSE
    return ws


def test_live_server_keeps_the_tcp_connection_open_after_a_websocket_closes(
        live_server):
    ws = closed_websocket(live_server)
    try:
        ws.sock.settimeout(0.1)
        # the server does not hang up: recv() would return b'' if it did
        with pytest.raises(TimeoutError):
            ws.sock.recv(1)
    finally:
        ws.shutdown()


def test_live_server_reads_what_follows_a_websocket_as_a_new_request(
        live_server, server_log):
    ws = closed_websocket(live_server)
    ws.sock.sendall(b'hello\r\n')
    ws.shutdown()
    # the second of the two lines it logs names this WebSocket's own URL
    # (python-socketio's clients put transport= first)
    last_line = 'None /socket.io/?EIO=4&transport=websocket HTTP/0.9'
    deadline = time.monotonic() + 5
    while last_line not in server_log.read_text() and time.monotonic() < deadline:
        time.sleep(0.01)  # not logged yet: look again
    log = server_log.read_text()
    # Werkzeug parses the bytes as an HTTP request line, and logs it as bad
    assert "code 400, message Bad request syntax ('hello')" in log
    assert last_line in log


def test_live_connect_without_login_is_refused(live_server, live_client):
    # the connect handler refuses a client that has no session
    assert connect_error(live_client(), live_server) == REFUSED_BY_THE_APP


def test_live_login_then_connect_over_websocket_gets_the_welcome(
        live_server, live_client):
    session = requests.Session()
    # the login succeeds, and session keeps the cookie it sets
    assert login(session, url=live_server).status_code == 200
    client = live_client(session)
    welcomes = queue.Queue()
    client.on('welcome', welcomes.put)
    client.connect(live_server, transports=['websocket'])
    # a real WebSocket, not long-polling
    assert client.transport() == 'websocket'
    # the server welcomes the user that the cookie names
    assert welcomes.get(timeout=5) == {'username': 'python'}
    client.disconnect()
    # and it welcomes them once
    assert welcomes.empty()


def test_live_wrong_password_is_401_and_the_connect_is_still_refused(
        live_server, live_client):
    session = requests.Session()
    # the login is refused
    assert login(session, 'python', 'wrong', url=live_server).status_code == 401
    # and the session it leaves gets no Socket.IO connection
    assert connect_error(live_client(session), live_server) == REFUSED_BY_THE_APP


def test_live_server_refuses_a_foreign_origin_that_the_test_client_lets_in(
        live_server, live_client, flask_client, connect):
    session = requests.Session()
    assert login(session, url=live_server).status_code == 200
    # from a page on another site, the server refuses the WebSocket itself
    foreign = live_client(session, origin='https://elsewhere.example')
    assert connect_error(foreign, live_server) == 'Connection error'
    # from the server's own origin, the same session gets in
    own = live_client(session, origin=live_server)
    assert connect_error(own, live_server) is None
    # while the test client makes no such check: the foreign origin gets in
    login(flask_client)
    client = connect(flask_client, headers={'Origin': 'https://elsewhere.example'})
    assert client.is_connected()


def test_live_server_signs_sessions_with_the_secret_key_in_its_environment(
        live_server, live_client):
    signed_with_its_key = requests.Session()
    signed_with_its_key.cookies['session'] = session_cookie(
        'python', LIVE_SECRET_KEY)
    signed_with_article_key = requests.Session()
    signed_with_article_key.cookies['session'] = session_cookie(
        'python', 'top secret!')
    # a session signed with the SECRET_KEY the server was started with gets in
    assert connect_error(live_client(signed_with_its_key), live_server) is None
    # one signed with the article's key, the fallback, does not
    assert connect_error(
        live_client(signed_with_article_key), live_server) == REFUSED_BY_THE_APP


def test_live_logout_refuses_the_next_connection(live_server, live_client):
    session = requests.Session()
    assert login(session, url=live_server).status_code == 200
    assert connect_error(live_client(session), live_server) is None
    # the logout succeeds, and the session cookie is cleared
    assert session.post(live_server + '/logout').status_code == 200
    assert 'session' not in session.cookies
    # so the next connection is refused
    assert connect_error(live_client(session), live_server) == REFUSED_BY_THE_APP


@pytest.mark.parametrize('user_id', [
    pytest.param(['python'], id='a list'),
    pytest.param({'python': 'is-great!'}, id='a dict'),
])
def test_live_session_whose_user_id_is_not_a_string_is_refused_plainly(
        live_server, server_log, live_client, user_id):
    session = requests.Session()
    session.cookies['session'] = session_cookie(user_id, LIVE_SECRET_KEY)
    # the app's own refusal, not "Unexpected connection error"
    assert connect_error(live_client(session), live_server) == REFUSED_BY_THE_APP
    # and the server logged no traceback
    assert 'Traceback' not in server_log.read_text()


if __name__ == '__main__':
    # `python test_my_app.py` runs this file under pytest: the same tests and
    # output as `python -m pytest`.
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))

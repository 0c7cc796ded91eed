"""Tests for my_app.py: run `python test_my_app.py`, or `python -m pytest`.

First the article's own test, then what a careful reader checks next, then
the walkthrough's examples, and last the real server driven by a real client.
"""
import atexit
import doctest
import functools
import os
import queue
import secrets
import socket
import subprocess
import sys
import time
import traceback
from unittest import mock

import requests
import socketio as python_socketio  # the client package; `socketio` is the app's
import websocket
from flask import Flask

from my_app import allowed_users, app, socketio


# The article's test, word for word but for its name: pytest only collects
# functions whose names start with test_.
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


def connect_with_cookie(cookie):
    """A Socket.IO test client whose Flask client holds cookie as its session."""
    flask_client = app.test_client()
    flask_client.set_cookie('session', cookie)
    return socketio.test_client(app, flask_test_client=flask_client)


def test_bad_credentials_get_401_and_socketio_stays_refused():
    for username, password in [
        ('python', 'wrong'),        # wrong password
        ('nobody', 'is-great!'),    # unknown user
        ('Python', 'is-great!'),    # user names are case-sensitive
        ('python', 'bar'),          # another user's password
    ]:
        flask_client = app.test_client()
        # the login is refused
        response = login(flask_client, username, password)
        assert response.status_code == 401, (username, password)
        # and Socket.IO, through that same Flask client, still refuses
        client = socketio.test_client(app, flask_test_client=flask_client)
        assert not client.is_connected(), (username, password)


def test_malformed_logins_get_400_and_log_nobody_in():
    for request in [
        {'data': {'password': 'is-great!'}},                        # no username
        {'data': {'username': 'python'}},                           # no password
        {'json': {'username': 'python', 'password': 'is-great!'}},  # JSON, not a form
    ]:
        flask_client = app.test_client()
        # the request is rejected as malformed, not as a server error
        response = flask_client.post('/login', **request)
        assert response.status_code == 400, request
        # and nobody is logged in
        client = socketio.test_client(app, flask_test_client=flask_client)
        assert not client.is_connected(), request


def test_second_user_is_welcomed_by_their_own_name():
    flask_client = app.test_client()
    assert login(flask_client, 'foo', 'bar').status_code == 200
    client = socketio.test_client(app, flask_test_client=flask_client)
    received = client.get_received()
    # one welcome, naming foo
    assert len(received) == 1
    assert received[0]['name'] == 'welcome'
    assert received[0]['args'] == [{'username': 'foo'}]
    client.disconnect()


def test_refused_client_gets_in_after_login_when_connect_is_called_again():
    flask_client = app.test_client()
    client = socketio.test_client(app, flask_test_client=flask_client)
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
    client.disconnect()


def test_user_removed_from_allowed_users_is_refused_at_next_connect():
    flask_client = app.test_client()
    login(flask_client, 'foo', 'bar')
    client = socketio.test_client(app, flask_test_client=flask_client)
    # while foo is allowed, their session gets them in
    assert client.is_connected()
    client.disconnect()
    with mock.patch.dict(allowed_users):  # puts allowed_users back afterwards
        del allowed_users['foo']
        client = socketio.test_client(app, flask_test_client=flask_client)
        # the cookie still names foo, but the user_loader no longer knows them
        assert not client.is_connected()


def test_forged_and_tampered_session_cookies_are_refused():
    flask_client = app.test_client()
    login(flask_client)
    cookie = flask_client.get_cookie('session').value
    # the real cookie, and one made with the app's own key, do get in:
    # so the refusals below are about the cookies, not about how they are sent
    for good_cookie in [cookie, session_cookie('python', app.secret_key)]:
        client = connect_with_cookie(good_cookie)
        assert client.is_connected()
        client.disconnect()
    for bad_cookie in [
        # one byte of the signed data changed (it starts 'eyJ', or '.eJ')
        cookie.replace('e', 'f', 1),
        # signed with a key that is not the app's
        session_cookie('python', 'not the secret key'),
        # correctly signed, for users who are not in allowed_users
        session_cookie('mallory', app.secret_key),
        session_cookie('', app.secret_key),
    ]:
        client = connect_with_cookie(bad_cookie)
        assert not client.is_connected(), bad_cookie


def test_walkthrough():
    # every >>> example in WALKTHROUGH.md prints what the file says it prints
    failed, attempted = doctest.testfile('WALKTHROUGH.md')
    assert attempted > 0
    assert failed == 0, f'{failed} of {attempted} examples failed, shown above'


# The real server, driven by a real client: what the test clients stand in for.

def start_server(secret_key):
    """Run `python my_app.py` as a reader does, with no terminal, on a free port.

    Returns the process and its URL once it answers. It is stopped at exit
    whatever happens; stop it sooner with terminate().
    """
    with socket.socket() as probe:  # let the system pick a port that is free
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, 'my_app.py'], cwd=app.root_path,
        env={**os.environ, 'PORT': str(port), 'SECRET_KEY': secret_key},
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    atexit.register(server.terminate)
    url = f'http://127.0.0.1:{port}'
    deadline = time.monotonic() + 10
    while server.poll() is None and time.monotonic() < deadline:
        try:
            requests.head(url, timeout=1)  # any answer, even 404, means it is up
            return server, url
        except requests.ConnectionError:
            time.sleep(0.01)  # not up yet: ask again
    server.terminate()
    raise RuntimeError(f'python my_app.py did not answer on {url}')


class WebSocketClosingAtOnce(websocket.WebSocket):
    """A client WebSocket whose close() sends its close frame and hangs up.

    By default close() then waits up to 3 s for the server to hang up first.
    Werkzeug's development server never does (see the first live test), so
    every disconnect, and every refused connect, would cost 3 s.
    """
    def close(self, status=websocket.STATUS_NORMAL, reason=b'', timeout=0):
        super().close(status, reason, timeout)


def live_client(session=None, origin=None):
    """A python-socketio client sending the cookies of a requests.Session.

    origin is the Origin header of its WebSocket; None sends the server's own.
    """
    return python_socketio.Client(http_session=session, websocket_extra_options={
        'class_': WebSocketClosingAtOnce, 'origin': origin})


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

LIVE_SECRET_KEY = secrets.token_hex()


@functools.cache  # one server for all the live tests, started by the first
def live_server_url():
    _, url = start_server(LIVE_SECRET_KEY)
    return url


def test_live_server_keeps_the_tcp_connection_open_after_a_websocket_closes():
    ws = websocket.create_connection(
        live_server_url().replace('http', 'ws', 1)
        + '/socket.io/?EIO=4&transport=websocket')
    ws.recv()  # Engine.IO's open packet
    ws.send_close()
    # the server answers our close frame with its own...
    assert ws.recv_frame().opcode == websocket.ABNF.OPCODE_CLOSE
    # ...but does not hang up: recv() would return b'' if it did
    ws.sock.settimeout(0.1)
    try:
        received = ws.sock.recv(1)
    except TimeoutError:
        received = None
    ws.shutdown()
    assert received is None


def test_live_connect_without_login_is_refused():
    # the connect handler refuses a client that has no session
    assert connect_error(live_client(), live_server_url()) == REFUSED_BY_THE_APP


def test_live_login_then_connect_over_websocket_gets_the_welcome():
    url = live_server_url()
    session = requests.Session()
    # the login succeeds, and session keeps the cookie it sets
    assert login(session, url=url).status_code == 200
    client = live_client(session)
    welcomes = queue.Queue()
    client.on('welcome', welcomes.put)
    client.connect(url, transports=['websocket'])
    try:
        # a real WebSocket, not long-polling
        assert client.transport() == 'websocket'
        # the server welcomes the user that the cookie names
        assert welcomes.get(timeout=5) == {'username': 'python'}
    finally:
        client.disconnect()
    # and it welcomes them once
    assert welcomes.empty()


def test_live_wrong_password_is_401_and_the_connect_is_still_refused():
    url = live_server_url()
    session = requests.Session()
    # the login is refused
    assert login(session, 'python', 'wrong', url=url).status_code == 401
    # and the session it leaves gets no Socket.IO connection
    assert connect_error(live_client(session), url) == REFUSED_BY_THE_APP


def test_live_server_refuses_a_foreign_origin_that_the_test_client_lets_in():
    url = live_server_url()
    session = requests.Session()
    assert login(session, url=url).status_code == 200
    # from a page on another site, the server refuses the WebSocket itself
    foreign = live_client(session, origin='https://elsewhere.example')
    assert connect_error(foreign, url) == 'Connection error'
    # from the server's own origin, the same session gets in
    assert connect_error(live_client(session, origin=url), url) is None
    # while the test client makes no such check: the foreign origin gets in
    flask_client = app.test_client()
    login(flask_client)
    client = socketio.test_client(app, flask_test_client=flask_client, headers={
        'Origin': 'https://elsewhere.example'})
    assert client.is_connected()
    client.disconnect()


def test_live_server_signs_sessions_with_the_secret_key_in_its_environment():
    url = live_server_url()
    signed_with_its_key = requests.Session()
    signed_with_its_key.cookies['session'] = session_cookie(
        'python', LIVE_SECRET_KEY)
    signed_with_article_key = requests.Session()
    signed_with_article_key.cookies['session'] = session_cookie(
        'python', 'top secret!')
    # a session signed with the SECRET_KEY the server was started with gets in
    assert connect_error(live_client(signed_with_its_key), url) is None
    # one signed with the article's key, the fallback, does not
    assert connect_error(
        live_client(signed_with_article_key), url) == REFUSED_BY_THE_APP


if __name__ == '__main__':
    # A runner of our own, so the tests need nothing beyond requirements.txt.
    tests = [test for name, test in dict(globals()).items()
             if name.startswith('test_')]
    failed = 0
    for test in tests:
        try:
            test()
        except Exception:  # noqa: BLE001 (a failing test may raise anything)
            failed += 1
            print(f'FAILED {test.__name__}')
            traceback.print_exc(file=sys.stdout)
        else:
            print(f'passed {test.__name__}')
    print(f'{len(tests) - failed} passed, {failed} failed')
    sys.exit(1 if failed else 0)

"""Tests for my_app.py: run `python -m pytest`, or `python test_my_app.py`.

First the article's own test, then what a careful reader checks next, and
last the real server driven by a real client.
"""
import secrets
import sys
import time
from pathlib import Path
from unittest import mock

import pytest
import requests
import socketio as python_socketio  # the client package; `socketio` is the app's
import websocket
from flask import Flask
from werkzeug.serving import WSGIRequestHandler

from examples.live import live_client, no_traceback_logged, printed_url, running
from my_app import allowed_users, app, socketio


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


def test_session_cookie_is_samesite_lax(flask_client):
    # so a browser keeps it off other sites' form posts (WALKTHROUGH.md, 15)
    assert 'SameSite=Lax' in login(flask_client).headers['Set-Cookie']


# The real server, driven by a real client: what the test clients stand in for.

LIVE_SECRET_KEY = secrets.token_hex()


@pytest.fixture(scope='session')
def live_server_and_log(tmp_path_factory):
    """`python my_app.py`, started as a reader starts it, with no terminal:
    its URL, and the file it logs to."""
    log_path = tmp_path_factory.mktemp('live_server') / 'my_app.log'
    # PORT=0: the server takes a free port itself and prints its URL
    with running([sys.executable, 'my_app.py'], log_path, cwd=Path(__file__).parent,
                 env={'PORT': '0', 'SECRET_KEY': LIVE_SECRET_KEY}) as server:
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
    # first), then a version that depends on the Python (WALKTHROUGH.md, 11)
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


def test_live_server_refuses_a_foreign_origin_that_the_test_client_lets_in(
        live_server, flask_client, connect):
    session = requests.Session()
    assert login(session, url=live_server).status_code == 200
    # from a page on another site, the server refuses the WebSocket itself
    assert connect_error(live_server, session,
                         origin='https://elsewhere.example') == 'Connection error'
    # from the server's own origin, the same session gets in
    assert connect_error(live_server, session, origin=live_server) is None
    # while the test client makes no such check: the foreign origin gets in
    login(flask_client)
    client = connect(flask_client, headers={'Origin': 'https://elsewhere.example'})
    assert client.is_connected()


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


if __name__ == '__main__':
    # `python test_my_app.py` runs this file under pytest: the same tests and
    # output as `python -m pytest`.
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))

"""Tests for my_app.py: run `python -m pytest`, or `python test_my_app.py`.

First the article's own test, then what a careful reader checks next. They
need only my_app.py beside them; test_my_app_live.py runs the real server.
"""
import sys
from unittest import mock

import pytest
from flask import Flask

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
def flask_app():
    return app


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


@pytest.mark.parametrize(('username', 'password'), [
    pytest.param('python', 'wrong', id='wrong password'),
    pytest.param('nobody', 'is-great!', id='unknown user'),
    pytest.param('Python', 'is-great!', id='user names are case-sensitive'),
    pytest.param('python', 'bar', id="another user's password"),
])
def test_bad_credentials_get_401(flask_client, connect, username, password):
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
def test_malformed_logins_get_400(flask_client, connect, request_options):
    # rejected as malformed, not as a server error
    assert flask_client.post('/login', **request_options).status_code == 400
    # and nobody is logged in
    assert not connect(flask_client).is_connected()


def test_welcome_reaches_the_new_connection_only(flask_app, connect):
    foo_client, python_client = flask_app.test_client(), flask_app.test_client()
    login(foo_client, 'foo', 'bar')
    login(python_client)
    foo = connect(foo_client)
    assert foo.get_received()[0]['args'] == [{'username': 'foo'}]
    received = connect(python_client).get_received()
    # one welcome, naming python, for python's new connection...
    assert len(received) == 1
    assert received[0]['name'] == 'welcome'
    assert received[0]['args'] == [{'username': 'python'}]
    # ...and none for foo, connected all the while
    assert foo.get_received() == []


def test_refused_client_gets_in_once_it_connects_again(flask_client, connect):
    client = connect(flask_client)
    assert not client.is_connected()
    login(flask_client)
    # logging in does not reconnect the Socket.IO client by itself
    assert not client.is_connected()
    # connect() reads the Flask client's cookies again, so now it gets in
    client.connect()
    received = client.get_received()
    assert len(received) == 1
    assert received[0]['args'] == [{'username': 'python'}]


def test_user_removed_from_allowed_users_is_refused(flask_client, connect):
    login(flask_client, 'foo', 'bar')
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
    assert not connect(flask_client).is_connected()


def test_logout_without_a_session_is_harmless(flask_client, connect):
    # nobody to log out is not an error
    assert flask_client.post('/logout').status_code == 200
    # and it leaves no cookie behind that could get in the way of a login
    assert flask_client.get_cookie('session') is None
    login(flask_client)
    assert connect(flask_client).is_connected()


GENUINE_COOKIE = session_cookie('python', app.secret_key)


def test_a_genuine_session_cookie_gets_in(flask_client, connect):
    # so that the refusals below are about the cookies themselves, not about
    # how session_cookie() makes them or how they are sent
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
def test_forged_and_tampered_session_cookies_are_refused(flask_client, connect, cookie):
    flask_client.set_cookie('session', cookie)
    # refused, and with no exception from the user_loader
    assert not connect(flask_client).is_connected()


def test_session_cookie_is_samesite_lax(flask_client):
    # so a browser keeps it off other sites' form posts (WALKTHROUGH.md, section 4)
    assert 'SameSite=Lax' in login(flask_client).headers['Set-Cookie']


if __name__ == '__main__':
    # `python test_my_app.py` runs this file under pytest: the same tests and
    # output as `python -m pytest test_my_app.py`.
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))

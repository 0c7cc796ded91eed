"""Tests for my_app.py: run `python test_my_app.py`, or `python -m pytest`.

First the article's own test, then what a careful reader checks next.
"""
import sys
import traceback
from unittest import mock

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


def login(flask_client, username='python', password='is-great!'):
    """Log in through the app's /login route and return the response."""
    return flask_client.post('/login', data={
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

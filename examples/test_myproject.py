import pytest
from flask import Flask

import myproject
from myproject import create_app


def session_cookie(user_id, secret_key):
    """A Flask session cookie saying user_id is logged in, signed with secret_key."""
    signer = Flask(__name__)
    signer.secret_key = secret_key
    serializer = signer.session_interface.get_signing_serializer(signer)
    return serializer.dumps({'_user_id': user_id})


@pytest.fixture
def login_of_python(monkeypatch):
    """A login of python's on the app's record, whose id the session holds as
    Flask-Login's user id."""
    monkeypatch.setitem(myproject.logins, 'a login of python', 'python')
    return 'a login of python'


def test_connect_before_login_is_refused(flask_client, connect):
    assert not connect(flask_client).is_connected()


def test_connect_after_login_is_welcomed(flask_client, connect, login):
    assert login(flask_client).status_code == 200
    received = connect(flask_client).get_received()
    # one welcome, naming the user who logged in
    assert len(received) == 1
    assert received[0]['name'] == 'welcome'
    assert received[0]['args'] == [{'username': 'python'}]


def test_welcome_reaches_the_new_connection_only(flask_app, connect, login):
    foo_client, python_client = flask_app.test_client(), flask_app.test_client()
    login(foo_client, 'foo', 'bar')
    login(python_client)
    foo = connect(foo_client)
    assert foo.get_received()[0]['args'] == [{'username': 'foo'}]
    received = connect(python_client).get_received()
    # one welcome, naming python, for python's new connection...
    assert len(received) == 1
    assert received[0]['args'] == [{'username': 'python'}]
    # ...and none for foo, connected all the while
    assert foo.get_received() == []


@pytest.mark.parametrize(('username', 'password'), [
    pytest.param('python', 'wrong', id='wrong password'),
    pytest.param('nobody', 'is-great!', id='unknown user'),
    pytest.param('python', 'bar', id="another user's password"),
    pytest.param('python', '', id='empty password'),
])
def test_bad_credentials_get_401_and_no_session(flask_client, connect, login, username, password):
    assert login(flask_client, username, password).status_code == 401
    assert not connect(flask_client).is_connected()


@pytest.mark.parametrize('form', [
    pytest.param({'password': 'is-great!'}, id='no username'),
    pytest.param({'username': 'python'}, id='no password'),
    pytest.param({}, id='no form at all'),
])
def test_malformed_logins_get_400_and_no_session(flask_client, connect, csrf_token, form):
    form['csrf_token'] = csrf_token(flask_client)
    # a 400 that says what was missing, not a server error
    assert flask_client.post('/login', data=form).status_code == 400
    assert not connect(flask_client).is_connected()


def test_login_without_the_csrf_token_of_the_page_is_refused(flask_client, connect):
    # another site's form can post the right fields, but not the page's token
    response = flask_client.post('/login', data={'username': 'python', 'password': 'is-great!'})
    assert response.status_code == 400
    assert 'The CSRF token is missing.' in response.text
    assert not connect(flask_client).is_connected()


def test_session_cookie_is_secure_httponly_and_samesite_lax(flask_client, login):
    cookie = login(flask_client).headers['Set-Cookie']
    # https only, out of scripts' reach, and off other sites' form posts
    assert {'Secure', 'HttpOnly', 'SameSite=Lax'} <= set(cookie.split('; '))


@pytest.mark.parametrize('secret_key', [
    pytest.param(None, id='unset'),
    pytest.param('', id='empty'),
    pytest.param('replace-me', id="the environment file's placeholder"),
])
def test_create_app_refuses_to_start_without_a_key_of_its_own(monkeypatch, secret_key):
    if secret_key is None:
        monkeypatch.delenv('SECRET_KEY', raising=False)
    else:
        monkeypatch.setenv('SECRET_KEY', secret_key)
    # no fallback key, which anyone could read and sign sessions with
    with pytest.raises(RuntimeError, match='SECRET_KEY is not set'):
        create_app()


@pytest.mark.parametrize('cookie', [
    pytest.param(session_cookie('a login of python', 'another key'),
                 id='signed with another key'),
    pytest.param(session_cookie('python', 'a key for the tests'), id="a user's name"),
    pytest.param(session_cookie('a login of mallory', 'a key for the tests'),
                 id='a login not on the record'),
    pytest.param(session_cookie(['a login of python'], 'a key for the tests'),
                 id='login id is a list'),
    pytest.param(session_cookie('a login of python', 'a key for the tests').replace('e', 'f', 1),
                 id='tampered'),
])
def test_forged_session_cookies_are_refused(flask_client, connect, login_of_python, cookie):
    flask_client.set_cookie('session', cookie)
    assert not connect(flask_client).is_connected()
    # nor does an HTTP route that needs a login take it
    assert flask_client.get('/me').status_code == 401


def test_a_genuine_session_cookie_gets_in(flask_client, connect, login_of_python):
    # so that the refusals above are about the cookies, not how they are sent
    flask_client.set_cookie('session', session_cookie(login_of_python, 'a key for the tests'))
    assert connect(flask_client).is_connected()
    assert flask_client.get('/me').json == {'username': 'python'}


def test_a_message_reaches_the_other_members_of_the_room_only(python_and_foo, flask_app,
                                                             connect, login):
    python, foo = python_and_foo
    foo_client = flask_app.test_client()
    login(foo_client, 'foo', 'bar')
    foo_elsewhere = connect(foo_client)  # foo again, not in the room
    foo_elsewhere.get_received()
    assert python.emit('join', 'lobby', callback=True) is True
    assert foo.emit('join', 'lobby', callback=True) is True
    assert python.emit('say', 'lobby', 'hello', callback=True) is True
    received = foo.get_received()
    # the other member hears it once, from python
    assert len(received) == 1
    assert received[0]['args'] == [{'from': 'python', 'text': 'hello'}]
    # the sender and the client outside the room hear nothing
    assert python.get_received() == []
    assert foo_elsewhere.get_received() == []


def test_a_user_cannot_join_another_users_room(python_and_foo):
    python, foo = python_and_foo
    # foo's own room, which python's connection is never let into
    assert python.emit('join', myproject.user_room('foo'), callback=True) is False
    myproject.socketio.emit('news', 'for foo only', to=myproject.user_room('foo'))
    # what is meant for foo reaches foo, and not python
    assert len(foo.get_received()) == 1
    assert python.get_received() == []


def test_a_user_cannot_say_anything_in_a_room_it_has_not_joined(python_and_foo):
    python, foo = python_and_foo
    assert foo.emit('join', 'lobby', callback=True) is True
    # python never joined the lobby
    assert python.emit('say', 'lobby', 'hello', callback=True) is False
    assert foo.get_received() == []


@pytest.mark.parametrize(('event', 'arguments'), [
    pytest.param('join', [], id='join, nothing'),
    pytest.param('join', [123], id='join, a number'),
    pytest.param('join', [['lobby']], id='join, a list'),
    pytest.param('join', ['lobby', 'extra'], id='join, two arguments'),
    pytest.param('join', ['nowhere'], id='join, a room that does not exist'),
    pytest.param('say', ['lobby'], id='say, no text'),
    pytest.param('say', ['lobby', 5], id='say, a number'),
    pytest.param('say', [{'room': 'lobby'}, 'hi'], id='say, a dict for the room'),
    pytest.param('say', ['lobby', 'hi', 'extra'], id='say, three arguments'),
])
def test_events_of_the_wrong_shape_get_false_and_change_nothing(python_and_foo, event, arguments):
    python, foo = python_and_foo
    assert python.emit('join', 'lobby', callback=True) is True
    assert foo.emit('join', 'lobby', callback=True) is True
    # a plain refusal, not an exception in the handler
    assert python.emit(event, *arguments, callback=True) is False
    # and nobody heard anything
    assert foo.get_received() == []
    assert python.is_connected()


def test_events_of_a_user_no_longer_known_disconnect_them(python_and_foo, monkeypatch):
    python, foo = python_and_foo
    assert python.emit('join', 'lobby', callback=True) is True
    assert foo.emit('join', 'lobby', callback=True) is True
    monkeypatch.delitem(myproject.allowed_users, 'python')  # removed since they connected
    python.emit('say', 'lobby', 'still here?')
    # the handler did not run: python was disconnected instead
    assert not python.is_connected()
    assert foo.get_received() == []


def test_logout_closes_that_logins_connections_only(flask_app, connect, login, logout):
    # python logged in on two devices, and foo
    python_client, python_elsewhere, foo_client = (flask_app.test_client() for _ in range(3))
    login(python_client)
    login(python_elsewhere)
    login(foo_client, 'foo', 'bar')
    python_sockets = [connect(python_client), connect(python_client)]
    other_sockets = [connect(python_elsewhere), connect(foo_client)]
    assert logout(python_client).status_code == 200
    # both connections of that login closed with the logout
    assert [socket.is_connected() for socket in python_sockets] == [False, False]
    # python's other device and foo are still connected, and logged in
    assert [socket.is_connected() for socket in other_sockets] == [True, True]
    assert python_elsewhere.get('/me').json == {'username': 'python'}
    # the record forgot that login and its connections, and kept the others
    assert len(myproject.logins) == len(myproject.connections) == 2


def test_a_cookie_copied_before_logout_gets_nothing(flask_app, connect, login, logout):
    flask_client, copied = flask_app.test_client(), flask_app.test_client()
    login(flask_client)
    # the session cookie, as someone who read it off the screen took it
    copied.set_cookie('session', flask_client.get_cookie('session').value)
    assert copied.get('/me').json == {'username': 'python'}
    assert logout(flask_client).status_code == 200
    # the copy is as well signed as ever, but its login has ended
    assert copied.get('/me').status_code == 401
    assert not connect(copied).is_connected()


def test_events_named_connect_and_disconnect_change_nothing(flask_client, connect, login,
                                                            logout):
    login(flask_client)
    client = connect(flask_client)
    assert len(client.get_received()) == 1  # the welcome
    # a client can send events by these names, with any arguments: no handler
    # runs, and the answer is a plain False
    assert client.emit('connect', callback=True) is False
    assert client.emit('disconnect', 'client namespace disconnect', callback=True) is False
    assert client.emit('disconnect', callback=True) is False
    # no second welcome, and the connection is still on the logout's record...
    assert client.get_received() == []
    assert client.is_connected()
    # ...so the logout closes it
    assert logout(flask_client).status_code == 200
    assert not client.is_connected()


def test_say_relays_no_message_longer_than_its_cap(python_and_foo):
    python, foo = python_and_foo
    assert python.emit('join', 'lobby', callback=True) is True
    assert foo.emit('join', 'lobby', callback=True) is True
    longest = 'x' * myproject.MAX_MESSAGE_LENGTH
    assert python.emit('say', 'lobby', longest + 'x', callback=True) is False
    assert python.emit('say', 'lobby', longest, callback=True) is True
    # the room heard the message of the right size only
    received = foo.get_received()
    assert len(received) == 1
    assert received[0]['args'] == [{'from': 'python', 'text': longest}]


def test_user_rooms_are_apart_from_public_rooms(flask_app, connect, login,
                                                                 monkeypatch):
    monkeypatch.setitem(myproject.allowed_users, 'lobby', 'a password')
    python_client, lobby_client = flask_app.test_client(), flask_app.test_client()
    login(python_client)
    login(lobby_client, 'lobby', 'a password')
    python, lobby = connect(python_client), connect(lobby_client)
    assert len(python.get_received()) == len(lobby.get_received()) == 1
    # python speaks in the lobby, the room; and something is meant for the user lobby
    assert python.emit('join', 'lobby', callback=True) is True
    assert python.emit('say', 'lobby', 'to the room', callback=True) is True
    myproject.socketio.emit('news', 'for the user lobby', to=myproject.user_room('lobby'))
    # each reached its own: the user lobby never joined the room
    received = lobby.get_received()
    assert len(received) == 1
    assert received[0]['args'] == ['for the user lobby']
    assert python.get_received() == []


def test_connect_after_logout_is_refused(flask_client, connect, login, logout):
    login(flask_client)
    assert logout(flask_client).status_code == 200
    assert not connect(flask_client).is_connected()


def test_a_closed_connection_leaves_the_record(flask_client, connect, login):
    login(flask_client)
    connect(flask_client).disconnect()
    # nothing left for a logout to close, nor to pile up
    assert not any(myproject.connections.values())


def test_logout_without_a_session_closes_nothing(flask_app, flask_client, connect, login,
                                                logout):
    login(flask_client)
    socket = connect(flask_client)
    # a logout from a client that never logged in: the signal's user is anonymous
    assert logout(flask_app.test_client()).status_code == 200
    assert socket.is_connected()

import re
import statistics
import sys
import time
import warnings

import chat
import pytest
import requests
import sqlalchemy
from chat import User, app, db
from sqlalchemy.exc import LegacyAPIWarning
from werkzeug.security import generate_password_hash

from live import printed_url, running, wait_for_event, wait_until


def test_login_then_connect_is_welcomed(flask_client, connect, login):
    response = login(flask_client)
    # the JSON login answers with the user it logged in
    assert response.status_code == 200
    assert response.json == {'username': 'python'}
    received = connect(flask_client).get_received()
    # and the connect handler, which loaded the user from the database, welcomes them
    assert len(received) == 1
    assert received[0]['args'] == [{'username': 'python'}]


@pytest.mark.parametrize(('request_options', 'status'), [
    pytest.param({'json': {'username': 'python', 'password': 'wrong'}}, 401, id='wrong password'),
    pytest.param({'json': {'username': 'nobody', 'password': 'bar'}}, 401, id='unknown user'),
    pytest.param({'json': {'username': 'python'}}, 400, id='no password'),
    pytest.param({'json': {'username': 'python', 'password': 123}}, 400,
                 id='a number for a password'),
    pytest.param({'json': ['python', 'is-great!']}, 400, id='a list, not an object'),
    pytest.param({'data': '{"username": ', 'content_type': 'application/json'}, 400,
                 id='JSON that does not parse'),
    pytest.param({'data': {'username': 'python', 'password': 'is-great!'}}, 415, id='a form'),
])
def test_bad_logins_get_a_clear_answer_and_log_nobody_in(
        flask_client, connect, request_options, status):
    # a 4xx that says what was wrong, never a 500
    assert flask_client.post('/login', **request_options).status_code == status
    # and nobody is logged in
    assert not connect(flask_client).is_connected()


@pytest.mark.parametrize('user_id', [
    pytest.param('python', id='a name'),
    pytest.param('', id='empty'),
    pytest.param('1.0', id='not an integer'),
    pytest.param(['1'], id='a list'),
    pytest.param('9' * 20, id='past SQLite integers'),
    pytest.param('9' * 5000, id="past int()'s digit limit"),
    pytest.param('\u0661', id='ARABIC-INDIC DIGIT ONE'),
])
def test_session_whose_user_id_is_not_a_number_is_refused(flask_client, connect, login,
                                                          user_id):
    login(flask_client)  # a login on the record, whose user id is then replaced
    with flask_client.session_transaction() as session:
        session['_user_id'] = user_id
    # the loader says nobody, rather than raising
    assert not connect(flask_client).is_connected()


def test_the_user_is_loaded_once_per_event_that_reads_current_user(
        flask_client, connect, login):
    login(flask_client)
    with app.app_context():
        engine = db.engine
    statements = []

    def record(connection, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sqlalchemy.event.listen(engine, 'before_cursor_execute', record)
    try:
        client = connect(flask_client)
        after_connect = len(statements)
        answers = [client.emit('whoami', callback=True) for _ in range(3)]
    finally:
        sqlalchemy.event.remove(engine, 'before_cursor_execute', record)
    # each event knew the user...
    assert answers == ['python'] * 3
    # ...at the cost of one query for the connect, and one more for each event
    assert (after_connect, len(statements)) == (1, 4)


def test_loading_the_user_raises_no_legacy_warning(flask_client, connect, login):
    login(flask_client)
    with warnings.catch_warnings():
        # User.query.get() in the loader would warn at every event: make it fail
        warnings.simplefilter('error', LegacyAPIWarning)
        client = connect(flask_client)
        assert client.emit('whoami', callback=True) == 'python'


def test_a_login_takes_as_long_whether_or_not_the_user_exists(flask_client):
    # a user whose hash costs what a real one does: Werkzeug's default
    with app.app_context():
        db.session.add(User(username='real', password_hash=generate_password_hash('right')))
        db.session.commit()

    def seconds_to_refuse(username):
        start = time.perf_counter()
        response = flask_client.post('/login', json={'username': username, 'password': 'wrong'})
        assert response.status_code == 401
        return time.perf_counter() - start

    # in turns, so that a busy machine slows both alike
    times = {'nobody': [], 'real': []}
    for _ in range(5):
        for username, seconds in times.items():
            seconds.append(seconds_to_refuse(username))
    unknown, known = (statistics.median(seconds) for seconds in times.values())
    # an unknown user's login checks a hash of the same cost, so no one can
    # tell from the time which names have accounts (without: 1 ms against 100)
    assert 1 / 3 < unknown / known < 3


def test_news_from_the_outside_service_reaches_each_user(news_service, flask_client,
                                                          connect, login):
    news_service.news = {'headline': 'first'}
    login(flask_client)
    client = connect(flask_client)  # the first connect starts the app's news task
    # what the service serves, once the task has polled it
    assert wait_for_event(client, 'news') == [{'headline': 'first'}]
    news_service.news = {'headline': 'second'}
    assert wait_for_event(client, 'news') == [{'headline': 'second'}]


def test_news_resumes_after_the_outside_service_fails(news_service, flask_client,
                                                      connect, login):
    login(flask_client)
    client = connect(flask_client)  # the task's first polls get the service's 503
    wait_until(lambda: news_service.polls >= 3, 'three polls of the failing service')
    news_service.news = {'headline': 'back'}
    # the task carried on past the bad answer
    assert wait_for_event(client, 'news') == [{'headline': 'back'}]


def test_a_message_posted_over_http_reaches_the_recipients_socket(connect, login):
    python_client, foo_client = app.test_client(), app.test_client()
    login(python_client)
    login(foo_client, 'foo', 'bar')
    foo_socket = connect(foo_client)
    python_socket = connect(python_client)
    # both are in: each had its welcome
    assert len(foo_socket.get_received()) == len(python_socket.get_received()) == 1
    response = python_client.post('/messages', json={'to': 'foo', 'text': 'hello'})
    assert response.status_code == 204
    received = foo_socket.get_received()
    # foo's socket got it once; an event named 'message' holds its data
    # itself in 'args', not in a list
    assert len(received) == 1
    assert received[0]['args'] == {'from': 'python', 'text': 'hello'}
    # and the sender's socket got nothing
    assert python_socket.get_received() == []


def test_login_with_csrf_on_needs_the_token_from_the_page(flask_client, monkeypatch):
    monkeypatch.setitem(app.config, 'WTF_CSRF_ENABLED', True)
    credentials = {'username': 'python', 'password': 'is-great!'}
    response = flask_client.post('/login', json=credentials)
    # without the token, CSRFProtect refuses the login
    assert response.status_code == 400
    assert 'The CSRF token is missing.' in response.text
    # the page gives the token, as to a browser's script, which sends it in a header
    page = flask_client.get('/').text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    response = flask_client.post('/login', json=credentials, headers={'X-CSRFToken': token})
    assert response.status_code == 200


def test_secure_session_cookie_never_comes_back_over_http(tmp_path):
    # a database file for the live server, with python in it
    database_url = f'sqlite:///{tmp_path / "chat.db"}'
    engine = sqlalchemy.create_engine(database_url)
    db.metadata.create_all(engine)
    with engine.begin() as connection:
        password_hash = generate_password_hash('is-great!', 'pbkdf2:sha256:1')  # a cheap one
        connection.execute(sqlalchemy.insert(User), [
            {'username': 'python', 'password_hash': password_hash}])
    engine.dispose()
    # flask run, not `python chat.py`, whose port is 5000 whatever the tests need
    command = [sys.executable, '-m', 'flask', '--app', chat.__file__, 'run', '--port', '0']
    answers = {}
    for secure in [None, 'false']:
        # added to this process's environment, where conftest.py put an
        # in-memory DATABASE_URL; None leaves a variable out, so unset here:
        # the app's default, a Secure cookie
        env = {'SECRET_KEY': 'a key for the live tests', 'DATABASE_URL': database_url,
               'SESSION_COOKIE_SECURE': secure}
        log_path = tmp_path / f'secure-{secure}.log'
        with running(command, log_path, cwd=tmp_path, env=env) as server:
            url = printed_url(server, log_path)
            session = requests.Session()
            page = session.get(url + '/').text
            token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
            response = session.post(url + '/login', headers={'X-CSRFToken': token}, json={
                'username': 'python', 'password': 'is-great!'})
            answers[secure] = (response.status_code,
                               'The CSRF session token is missing.' in response.text)
    # the CSRF token lives in the session, whose Secure cookie the client keeps
    # but sends back over https only: over http, the login fails its CSRF check
    assert answers == {None: (400, True), 'false': (200, False)}


def test_a_cookie_copied_before_logout_gets_nothing(flask_app, connect, login):
    flask_client, copied, elsewhere = (flask_app.test_client() for _ in range(3))
    login(flask_client)
    login(elsewhere)  # python on another device
    # the session cookie, as someone who read it off the screen took it
    copied.set_cookie('session', flask_client.get_cookie('session').value)
    socket = connect(flask_client)
    assert socket.emit('whoami', callback=True) == 'python'
    assert flask_client.post('/logout').status_code == 204
    # the copy is as well signed as ever, but its login has ended
    message = {'to': 'foo', 'text': 'still here?'}
    assert copied.post('/messages', json=message).status_code == 401
    assert not connect(copied).is_connected()
    # the socket opened before the logout now sees nobody
    assert socket.emit('whoami', callback=True) == []
    # and python's other login stays
    assert elsewhere.post('/messages', json=message).status_code == 204


def test_an_event_named_connect_runs_no_handler(flask_client, connect, login):
    login(flask_client)
    client = connect(flask_client)
    assert len(client.get_received()) == 1  # the welcome
    # a client can send an event by that name: the answer is a plain False
    assert client.emit('connect', callback=True) is False
    # and no second welcome
    assert client.get_received() == []

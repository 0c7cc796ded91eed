import http.server
import json
import os
import threading

import pytest
from werkzeug.security import generate_password_hash

from live import interrupt_on_stop_signals

# chat.py reads its configuration when it is imported: set the environment first.
os.environ['SECRET_KEY'] = 'a key for the tests'
os.environ['DATABASE_URL'] = 'sqlite://'  # in memory, for this test run

import chat  # after the environment it reads
from chat import User, app, db, socketio

interrupt_on_stop_signals()

app.config.update(
    TESTING=True,
    WTF_CSRF_ENABLED=False,  # the login's CSRF token has a test of its own
)

USERS = {'python': 'is-great!', 'foo': 'bar'}
# Werkzeug's default hash, scrypt, costs a tenth of a second at each check, and
# a login checks one. The test users' hashes cost nothing: check_password_hash()
# reads the method from the hash, so the app's code stays as it is.
CHEAP_HASH = 'pbkdf2:sha256:1'


@pytest.fixture(autouse=True)
def database():
    """Empty tables for each test, with the users in them."""
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.session.add_all(
            User(username=username, password_hash=generate_password_hash(password, CHEAP_HASH))
            for username, password in USERS.items())
        db.session.commit()
    # out of the app context again before the test runs its clients (WALKTHROUGH.md, section 6)


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


@pytest.fixture
def login():
    """Log a Flask client in through the JSON /login, as python unless told otherwise."""
    def login(flask_client, username='python', password='is-great!'):
        return flask_client.post('/login', json={'username': username, 'password': password})

    return login


@pytest.fixture
def news_service(monkeypatch):
    """A stand-in for the outside news service, on a free port of 127.0.0.1,
    with the app pointed at it. It serves news_service.news as JSON, or a 503
    while that is None, and counts its polls. At the end, the app's news task is stopped, then the
    service."""
    class NewsHandler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            service.polls += 1
            if service.news is None:  # as a service that fails
                self.send_error(503)
                return
            body = json.dumps(service.news).encode()
            self.send_response(200)
            self.send_header('Content-Type', 'application/json')
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass  # no line per request in the test's output

    service = http.server.ThreadingHTTPServer(('127.0.0.1', 0), NewsHandler)
    service.news, service.polls = None, 0
    thread = threading.Thread(target=service.serve_forever, daemon=True)  # cannot hold up the exit
    thread.start()
    monkeypatch.setitem(app.config, 'NEWS_URL', f'http://127.0.0.1:{service.server_port}/')
    monkeypatch.setitem(app.config, 'NEWS_INTERVAL', 0.05)
    yield service
    # the app's task outlives the test unless told to stop, and would emit
    # into the tests that follow
    chat.news_stop.set()
    if chat.news_relay is not None:
        chat.news_relay.join(timeout=5)
        assert not chat.news_relay.is_alive()
    chat.news_relay = None
    chat.news_stop.clear()
    service.shutdown()
    thread.join()
    service.server_close()

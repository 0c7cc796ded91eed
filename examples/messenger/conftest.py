import contextlib
import http.server
import json
import shutil
import sys
import threading
from pathlib import Path

import pytest
import redis
import requests
from flask_socketio import SocketIO

import messenger
from live import (
    free_port,
    interrupt_on_stop_signals,
    no_traceback_logged,
    printed_url,
    redis_server,
    running,
    wait_until,
)
from messenger import create_app, socketio

interrupt_on_stop_signals()
pytest_plugins = ['pytester']  # for the test of pytest.ini's filterwarnings

HERE = Path(__file__).parent
CHANNEL = 'flask-socketio'  # the Redis channel of Flask-SocketIO's queue


@pytest.fixture(scope='session')
def redis_url(tmp_path_factory):
    """The URL of a redis-server of our own, for the whole run, on a free
    port of 127.0.0.1."""
    folder = tmp_path_factory.mktemp('redis')
    with contextlib.ExitStack() as stack:
        # redis-server cannot pick a free port and say which: pick one, and
        # start again on another if some other process takes it first
        url = None
        while url is None:
            url = stack.enter_context(redis_server(folder, free_port()))
        yield url


@pytest.fixture
def redis_client(redis_url):
    """A client of the tests' Redis, emptied for each test."""
    with redis.Redis.from_url(redis_url, decode_responses=True) as client:
        client.flushdb()
        yield client


@pytest.fixture
def flask_app(monkeypatch, redis_url, redis_client):
    # create_app() reads its settings from the environment when it is called
    monkeypatch.setenv('SECRET_KEY', 'a key for the tests')
    monkeypatch.setenv('REDIS_URL', redis_url)
    # It always passes REDIS_URL to init_app() as message_queue=, which the
    # test client refuses: take the queue out. client_manager=None also drops
    # the manager that an earlier init_app() made from a queue, which
    # init_app() would otherwise keep (Flask-SocketIO #680).
    init_app = SocketIO.init_app

    def init_app_without_a_queue(self, app, **options):
        init_app(self, app, **{**options, 'message_queue': None, 'client_manager': None})

    monkeypatch.setattr(SocketIO, 'init_app', init_app_without_a_queue)
    app = create_app()
    app.config['TESTING'] = True
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
    """Log a client in through the JSON /login, as python unless told
    otherwise: a Flask test client, or a requests.Session with the live
    server's url."""
    def login(client, username='python', password='is-great!', url=''):
        return client.post(url + '/login', json={'username': username, 'password': password})

    return login


@pytest.fixture
def open_tab(flask_app, connect, login):
    """open_tab(username, namespace) connects a new Socket.IO test client of
    username to namespace, as a new browser tab would: each user has one
    Flask client for the test, logged in at their first tab."""
    flask_clients = {}

    def open_tab(username, namespace):
        if username not in flask_clients:
            flask_clients[username] = flask_app.test_client()
            response = login(flask_clients[username], username, messenger.allowed_users[username])
            assert response.status_code == 200
        return connect(flask_clients[username], namespace)

    return open_tab


@pytest.fixture
def feed_service():
    """A stand-in for the outside feed, on a free port of 127.0.0.1. It serves
    feed_service.item as JSON, or a 503 while that is None, and counts its
    polls; while feed_service.hang is true, it takes the request and never
    answers (until the test ends), and counts those in feed_service.hung."""
    class FeedHandler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            service.polls += 1
            if service.hang:
                service.hung += 1
                service.released.wait()  # the test's end
                return  # no answer at all: the connection closes
            if service.item is None:  # as a service that fails
                self.send_error(503)
                return
            body = json.dumps(service.item).encode()
            self.send_response(200)
            self.send_header('Content-Type', 'application/json')
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass  # no line per request in the test's output

    service = http.server.ThreadingHTTPServer(('127.0.0.1', 0), FeedHandler)
    service.item, service.polls, service.hang, service.hung = None, 0, False, 0
    service.released = threading.Event()
    service.url = f'http://127.0.0.1:{service.server_port}/'
    # shutdown() at once; a daemon, which cannot hold up the exit
    thread = threading.Thread(target=service.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield service
    service.released.set()
    service.shutdown()
    thread.join()
    service.server_close()


@pytest.fixture
def feed(flask_app, feed_service):
    """The app's feed thread, started as `python messenger.py` starts it, on
    the stand-in: a poll every 0.05 s, each given 0.2 s to answer. Yields the
    stand-in. The thread is stopped and joined as the test ends, so that an
    exception in it fails this test (pytest.ini), not a later one."""
    flask_app.config.update(FEED_URL=feed_service.url, FEED_INTERVAL=0.05, FEED_TIMEOUT=0.2)
    stop = threading.Event()
    thread = socketio.start_background_task(messenger.relay_feed, flask_app, stop)
    yield feed_service
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive(), 'the feed thread did not stop'


def subscribers(redis_url):
    """How many server processes listen on the queue."""
    with redis.Redis.from_url(redis_url) as client:
        [(_, count)] = client.pubsub_numsub(CHANNEL)
        return count


@pytest.fixture(scope='module')
def two_servers(redis_url, tmp_path_factory):
    """Two gunicorn processes of the app that share its key and Redis, both
    listening on the queue, for one test module: as deployed, but over plain
    http. Yields the URL and the log file of each."""
    folder = tmp_path_factory.mktemp('gunicorn')
    # One worker per process, as Flask-SocketIO needs; no control socket,
    # which the second gunicorn would take from the first (gunicorn 25.1 on)
    command = [shutil.which('gunicorn', path=Path(sys.executable).parent), '--workers', '1',
               '--threads', '20', '--no-control-socket', '--bind', '127.0.0.1:0',
               'messenger:create_app()']
    env = {'SECRET_KEY': 'a key for the live tests', 'REDIS_URL': redis_url,
           'SESSION_COOKIE_SECURE': 'false'}  # over http, requests sends back no Secure cookie
    with contextlib.ExitStack() as stack:
        servers = []
        for name in 'a', 'b':
            log_path = folder / f'{name}.log'
            process = stack.enter_context(running(command, log_path, cwd=HERE, env=env))
            servers.append((printed_url(process, log_path), log_path))
            # A process listens on the queue from its first Engine.IO
            # connection on: an emit published before then never reaches it.
            requests.get(servers[-1][0] + '/socket.io/?EIO=4&transport=polling', timeout=5)
            wait_until(lambda: subscribers(redis_url) == len(servers), f'{name} on the queue')
        yield servers
    # what a test's own check could not see: a server may log after a test ends
    for _, log_path in servers:
        assert 'Traceback' not in log_path.read_text()


@pytest.fixture
def servers(two_servers, redis_client):
    """The two servers' URLs, for one test, with Redis emptied: a traceback
    that reaches either log during the test is its error."""
    (a, a_log), (b, b_log) = two_servers
    with no_traceback_logged(a_log), no_traceback_logged(b_log):
        yield a, b

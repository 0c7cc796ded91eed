import contextlib
import re
import secrets

import flask_socketio
import pytest
import requests
import socketio as python_socketio  # the client package; `socketio` is the app's
import trustme
from real_servers import (
    HOST,
    OVER_HTTP,
    PAGE_ORIGIN,
    WITHOUT_TLS,
    free_port,
    gunicorn,
    gunicorn_pair,
    nginx,
    redis_server,
    wait_for_it,
)

from live import interrupt_on_stop_signals, signals_held

interrupt_on_stop_signals()


@pytest.fixture(scope='session')
def redis_url(tmp_path_factory):
    """The URL of a redis-server of our own, with a password."""
    with redis_server(tmp_path_factory.mktemp('redis'), free_port(),
                      secrets.token_urlsafe()) as url:
        yield url


@pytest.fixture(scope='module')
def servers(redis_url, tmp_path_factory):
    """The URLs of two gunicorn processes that share SECRET_KEY and Redis, for
    clients over plain http."""
    with gunicorn_pair(tmp_path_factory.mktemp('gunicorn'), redis_url, OVER_HTTP) as pair:
        yield [server.url for server in pair]


@pytest.fixture(scope='module')
def servers_as_configured(redis_url, tmp_path_factory):
    """Two such processes, with the template's settings all as they stand, for
    clients that reach them over https, through nginx."""
    with gunicorn_pair(tmp_path_factory.mktemp('gunicorn'), redis_url) as pair:
        yield [server.url for server in pair]


@pytest.fixture
def servers_to_stop(redis_url, tmp_path):
    """Two processes for one test, over http: their Servers."""
    with gunicorn_pair(tmp_path, redis_url, OVER_HTTP) as pair:
        yield pair


@pytest.fixture
def start_gunicorn(redis_url, tmp_path):
    """Start a gunicorn for one test, over http: start_gunicorn(env) returns
    its Server. env adds to the environment; redis_url='...' in it sets the queue."""
    with contextlib.ExitStack() as stack:
        def start_gunicorn(env=(), redis_url=redis_url):
            return wait_for_it(stack.enter_context(
                gunicorn(tmp_path, redis_url, {**OVER_HTTP, **dict(env)})))

        yield start_gunicorn


@pytest.fixture(scope='session')
def tls(tmp_path_factory):
    """A certificate for the tests' HOST, from a certificate authority of our own."""
    folder = tmp_path_factory.mktemp('tls')
    authority = trustme.CA()
    certificate = authority.issue_cert(HOST)
    paths = {name: folder / f'{name}.pem' for name in ['authority', 'certificate', 'key']}
    authority.cert_pem.write_to_path(paths['authority'])
    for pem in certificate.cert_chain_pems:
        pem.write_to_path(paths['certificate'], append=True)
    certificate.private_key_pem.write_to_path(paths['key'])
    return paths


@pytest.fixture
def start_nginx(tls, tmp_path_factory):
    """Start nginx for one test: start_nginx(server_urls, edits) returns its Nginx."""
    with contextlib.ExitStack() as stack:
        yield lambda server_urls, edits=(): stack.enter_context(
            nginx(server_urls, tmp_path_factory.mktemp('nginx'), tls, edits))


@pytest.fixture(scope='module')
def nginx_ip_hash(servers, tls, tmp_path_factory):
    """nginx, as README.md shows it but without TLS, in front of both servers."""
    with nginx(servers, tmp_path_factory.mktemp('nginx'), tls, WITHOUT_TLS) as proxy:
        yield proxy.url


@pytest.fixture(scope='module')
def nginx_round_robin(servers, tls, tmp_path_factory):
    """The same without ip_hash: nginx takes turns, its default."""
    with nginx(servers, tmp_path_factory.mktemp('nginx'), tls,
               [*WITHOUT_TLS, ('ip_hash;', '')]) as proxy:
        yield proxy.url


@pytest.fixture
def new_session(tls):
    """new_session() makes a requests.Session that trusts our authority, and
    closes it at the end."""
    sessions = []

    def new_session():
        session = requests.Session()
        # nginx's https: trust our authority, and not REQUESTS_CA_BUNDLE, which
        # requests would otherwise prefer (psf/requests#3829)
        session.verify, session.trust_env = str(tls['authority']), False
        sessions.append(session)
        return session

    yield new_session
    # held: a signal here could be swallowed by the libraries' own cleanup
    with signals_held():
        for session in sessions:
            session.close()  # an idle keep-alive connection would hold up a worker's stop


@pytest.fixture
def logged_in(new_session):
    """logged_in(url) logs in through the login page's form, as python unless
    told otherwise, and returns the requests.Session that holds the cookie."""
    def logged_in(url, username='python', password='is-great!'):
        session = new_session()
        page = session.get(url + '/login').text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        # over https, Flask-WTF wants the Referer of the app's own page: what
        # a browser sends from https://localhost/login (no port, as on 443)
        response = session.post(url + '/login', headers={'Referer': PAGE_ORIGIN + '/login'},
                                data={'username': username, 'password': password,
                                      'csrf_token': token})
        response.raise_for_status()
        return session

    return logged_in


@pytest.fixture
def connect_to():
    """connect_to(url, session) connects a SimpleClient, over WebSocket unless
    told otherwise; every client is disconnected at the end."""
    clients = []

    def connect_to(url, session=None, transports=('websocket',), namespace='/', headers=None,
                   origin=None, wait_timeout=5, **options):
        # reconnection=False: a client that reconnects by itself could hide a
        # failure. handle_sigint=False: Ctrl+C stays pytest's; python-engineio's
        # own handler first disconnects every client, and an error there can
        # take the KeyboardInterrupt's place, caught by a test as a failed connect.
        client = python_socketio.SimpleClient(
            http_session=session, handle_sigint=False, **{'reconnection': False, **options},
            websocket_extra_options={'origin': origin} if origin else {})
        clients.append(client)
        client.connect(url, headers=headers or {}, transports=list(transports),
                       namespace=namespace, wait_timeout=wait_timeout)
        return client

    yield connect_to
    # held: websocket-client's close() catches everything while it waits for
    # the server's close frame, KeyboardInterrupt too, so the run would go on
    with signals_held():
        for client in clients:
            client.disconnect()


@pytest.fixture
def emitter(redis_url):
    """A SocketIO with no app: what another process emits through."""
    return flask_socketio.SocketIO(message_queue=redis_url)

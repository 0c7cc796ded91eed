import http.client
import os
import re
import secrets
import shlex
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import flask_socketio
import pytest
import redis
import requests
import socketio as python_socketio  # the client package; `socketio` is the app's
import websocket
from real_servers import (
    CHANNEL,
    ENVIRONMENT_FILE,
    HOST,
    NGINX_SITE,
    PAGE_ORIGIN,
    PROJECT,
    WITHOUT_TLS,
    environment_file,
    free_port,
    gunicorn_command,
    nginx,
    nginx_command,
    nginx_conf,
    redis_server,
    subscribe,
    subscribers,
)

from live import connect_again, kill, next_packet, running, wait_until
from myproject import create_app, socketio, user_room

WELCOME = ['welcome', {'username': 'python'}]
PAGE_OF_PLAIN_NGINX = f'http://{HOST}'  # the Origin of a page nginx served WITHOUT_TLS


def welcome_or_refusal(url, session, origin, headers=()):
    """What a page's WebSocket to / gets first: the welcome packet, or the HTTP
    status that refuses it. One thread on the socket, and so no race on wss://."""
    try:
        ws = websocket.create_connection(
            url.replace('http', 'ws', 1) + '/socket.io/?EIO=4&transport=websocket',
            origin=origin, header=dict(headers), cookie='session=' + session.cookies['session'],
            sslopt={'ca_certs': session.verify}, timeout=5)
    except websocket.WebSocketBadStatusException as refusal:
        return refusal.status_code
    except websocket.WebSocketException as error:  # not even an HTTP answer
        return str(error)
    try:
        ws.recv()  # Engine.IO's open packet
        ws.send('40')  # Socket.IO's connect to /
        return ws.recv()
    finally:
        ws.close(timeout=0)  # its close frame, then hang up at once


def csrf_token(session, url):
    """The token that the login page puts in its form."""
    return re.search(r'name="csrf_token" value="([^"]+)"',
                     session.get(url + '/login').text).group(1)


@pytest.mark.parametrize('transport', ['websocket', 'polling'])
def test_logged_in_client_is_welcomed(servers, logged_in, connect_to, transport):
    client = connect_to(servers[0], logged_in(servers[0]), transports=[transport])
    # the transport asked for, and the welcome naming the user
    assert client.transport == transport
    assert client.receive(timeout=5) == WELCOME


def test_client_that_did_not_log_in_is_refused(servers, connect_to):
    # no session cookie: the connect handler says no
    with pytest.raises(python_socketio.exceptions.ConnectionError,
                       match='One or more namespaces failed to connect: /'):
        connect_to(servers[0])


def test_gunicorn_hangs_up_once_a_websocket_closes(servers):
    ws = websocket.create_connection(
        servers[0].replace('http', 'ws', 1) + '/socket.io/?EIO=4&transport=websocket')
    ws.recv()  # Engine.IO's open packet
    ws.send_close()
    ws.sock.settimeout(5)
    # the server hangs up: the stream ends, b'', after its own close frame
    # (with threads, in 29 of 500 tries here, without one); a server that
    # kept the connection open would have recv() time out
    while ws.sock.recv(4096):
        pass
    ws.shutdown()


def test_a_default_client_disconnects_at_once(servers, logged_in):
    for _ in range(5):
        start = time.monotonic()
        # a plain SimpleClient: no WebSocketClosingAtOnce needed here
        with python_socketio.SimpleClient(http_session=logged_in(servers[0]),
                                          handle_sigint=False) as client:
            client.connect(servers[0], transports=['websocket'])
            assert client.receive(timeout=5) == WELCOME
        # on Werkzeug's development server, this often takes 3 s (WALKTHROUGH.md, section 12)
        assert time.monotonic() - start < 1


def test_login_on_one_server_is_good_on_the_other(servers, logged_in, connect_to):
    session = logged_in(servers[0])
    # the other server checks the cookie's signature with the same SECRET_KEY
    assert connect_to(servers[1], session).receive(timeout=5) == WELCOME


def test_room_message_on_one_server_reaches_a_client_of_the_other(
        servers, logged_in, connect_to):
    speaker = connect_to(servers[0], logged_in(servers[0]))
    listener = connect_to(servers[1], logged_in(servers[1], 'foo', 'bar'))
    # call() returns once the join handler has run: both are in the room
    assert speaker.call('join', 'lobby', timeout=5) is True
    assert listener.call('join', 'lobby', timeout=5) is True
    assert listener.receive(timeout=5) == ['welcome', {'username': 'foo'}]
    for number in range(20):
        speaker.emit('say', ('lobby', f'message {number}'))
        # server A published the emit to Redis, and server B passed it to its client
        assert listener.receive(timeout=5) == [
            'said', {'from': 'python', 'text': f'message {number}'}]


@pytest.mark.parametrize('emitter_kind', ['flask_socketio', 'python_socketio'])
def test_another_process_emits_to_clients_of_both_servers(
        servers, redis_url, logged_in, connect_to, emitter_kind):
    clients = [connect_to(url, logged_in(url)) for url in servers]
    # one client on each server, both in
    assert [client.receive(timeout=5) for client in clients] == [WELCOME, WELCOME]
    if emitter_kind == 'flask_socketio':
        emitter = flask_socketio.SocketIO(message_queue=redis_url)
    else:  # python-socketio's own, which must be told Flask-SocketIO's channel
        emitter = python_socketio.RedisManager(redis_url, channel=CHANNEL, write_only=True)
    emitter.emit('news', 'from outside')
    # each server heard it from Redis, and passed it to its own client
    assert [client.receive(timeout=5) for client in clients] == [['news', 'from outside']] * 2


def test_logout_on_one_server_closes_the_users_sockets_on_both(servers, logged_in, connect_to):
    session = logged_in(servers[0])
    # python on each server, and foo; clients that act on no event, so that
    # only the server can end their connections
    python_sockets = [connect_to(url, session) for url in servers]
    foo = connect_to(servers[1], logged_in(servers[1], 'foo', 'bar'))
    logout = session.post(servers[0] + '/logout',
                          data={'csrf_token': csrf_token(session, servers[0])})
    assert logout.status_code == 200
    # each server closed python's socket, the other one through Redis
    wait_until(lambda: not any(socket.connected for socket in python_sockets),
               "both servers to close python's sockets")
    assert foo.connected


def test_a_test_app_made_after_a_queued_app_has_no_queue(redis_url):
    # first an app with a real queue, as a test of the production config makes
    create_app({'SECRET_KEY': 'a key for the tests', 'SOCKETIO_MESSAGE_QUEUE': redis_url})
    test_app = create_app({'TESTING': True, 'SECRET_KEY': 'a key for the tests',
                           'SOCKETIO_MESSAGE_QUEUE': None})
    flask_client = test_app.test_client()
    token = re.search(r'value="([^"]+)"', flask_client.get('/login').text).group(1)
    flask_client.post('/login', data={'username': 'python', 'password': 'is-great!',
                                      'csrf_token': token})
    # the test client takes the app: create_app() dropped the earlier queue
    client = socketio.test_client(test_app, flask_test_client=flask_client)
    received = client.get_received()
    assert len(received) == 1
    assert received[0]['args'] == [{'username': 'python'}]
    client.disconnect()


@pytest.mark.parametrize(('queue', 'error'), [
    pytest.param(lambda url: f'redis://127.0.0.1:{free_port()}', redis.ConnectionError,
                 id='no Redis there'),
    pytest.param(lambda url: url.replace('@', 'wrong@', 1), redis.AuthenticationError,
                 id='a wrong password'),
    pytest.param(lambda url: url.replace(url.split('@')[0], 'redis://'),
                 redis.AuthenticationError, id='no password'),
])
def test_create_app_fails_at_once_without_its_queue(redis_url, queue, error):
    # its ping, before a server could start and emit into nothing
    with pytest.raises(error):
        create_app({'SECRET_KEY': 'a key', 'SOCKETIO_MESSAGE_QUEUE': queue(redis_url)})


def test_gunicorn_refuses_to_start_with_the_placeholder_key(tmp_path):
    port, command = gunicorn_command()
    log_path = tmp_path / 'gunicorn.log'
    # the environment file as the template has it, its SECRET_KEY still the placeholder
    env = {'PATH': os.environ['PATH'], **environment_file(), **{name: '0' for name in port}}
    with running(command, log_path, cwd=PROJECT, env=env) as process:
        process.wait(timeout=10)
    # create_app() raises in the worker, so gunicorn stops at once, saying why
    assert process.returncode == 3
    assert 'RuntimeError: SECRET_KEY is not set' in log_path.read_text()


def test_the_live_environment_file_is_for_root_alone(tmp_path):
    [command] = re.findall(r'^#\s+(install .+)$', ENVIRONMENT_FILE.read_text(), re.MULTILINE)
    *install, template, live_file = shlex.split(command)
    # readable and writable by root alone...
    assert install == ['install', '-m', '600', '-o', 'root', '-g', 'root']
    # ...and out of the project's folder, where a commit or a static route could take it
    assert not Path(live_file).resolve().is_relative_to(PROJECT.resolve())
    if os.geteuid() == 0:  # only root can hand a file to root
        installed = tmp_path / 'myproject.env'
        subprocess.run([*install, template, installed], cwd=PROJECT, check=True)
        assert (installed.stat().st_mode & 0o777, installed.stat().st_uid) == (0o600, 0)
        assert installed.read_text() == ENVIRONMENT_FILE.read_text()


def test_the_environment_file_reads_the_same_in_a_shell(tmp_path):
    variables = environment_file()
    # plain values, which systemd's EnvironmentFile= and sh read alike
    assert all(re.fullmatch(r'[\w%.:/@~-]*', value) for value in variables.values())
    # the command the template gives for a shell, on a copy of it where it says
    live_file = tmp_path / 'myproject.env'
    shutil.copy(ENVIRONMENT_FILE, live_file)
    command = re.search(r'`(set -a && .+? && set \+a)`', ENVIRONMENT_FILE.read_text()).group(1)
    command = command.replace('/etc/myproject.env', str(live_file))
    printed = subprocess.run(['sh', '-c', command + ' && env -0'], cwd=PROJECT, env={},
                             capture_output=True, text=True, check=True).stdout
    shell = dict(line.split('=', 1) for line in printed.split('\0') if line)
    assert {name: shell.get(name) for name in variables} == variables


def test_a_redis_password_of_any_characters_works_percent_encoded(tmp_path):
    password = ''.join(chr(code) for code in range(32, 127))  # every printable ASCII character
    with redis_server(tmp_path, free_port(), password) as redis_url:
        # the URL as the environment file holds it: percent-encoded, so plain
        assert re.fullmatch(r'[\w%.:/@~-]*', redis_url)
        # create_app() pings Redis with it, which authenticates
        create_app({'SECRET_KEY': 'a key', 'SOCKETIO_MESSAGE_QUEUE': redis_url})
        # as it stands, the password breaks the URL
        raw_url = f'redis://:{password}@127.0.0.1:{redis_url.rsplit(":", 1)[1]}'
        with pytest.raises(ValueError):
            create_app({'SECRET_KEY': 'a key', 'SOCKETIO_MESSAGE_QUEUE': raw_url})


def test_a_process_subscribes_to_the_queue_at_its_first_connection(start_gunicorn, redis_url):
    before = subscribers(redis_url)
    server = start_gunicorn()
    # it answers, yet does not listen on the queue: an emit now misses its clients
    assert subscribers(redis_url) == before
    # its first Engine.IO connection starts the listener, which subscribes
    requests.get(server.url + '/socket.io/?EIO=4&transport=polling', timeout=5).raise_for_status()
    wait_until(lambda: subscribers(redis_url) == before + 1, 'the server to subscribe')


@pytest.mark.parametrize('lost_emit', [
    pytest.param(lambda url: flask_socketio.SocketIO(
        message_queue=f'redis://127.0.0.1:{free_port()}'), id='no Redis there'),
    pytest.param(lambda url: python_socketio.RedisManager(url, write_only=True),
                 id="python-socketio's own channel"),
])
def test_an_emit_that_reaches_no_server_returns_as_if_it_did(
        servers, redis_url, logged_in, connect_to, emitter, lost_emit):
    client = connect_to(servers[0], logged_in(servers[0]))
    assert client.receive(timeout=5) == WELCOME
    # emit() returns as if all went well
    lost_emit(redis_url).emit('news', 'lost')
    # a marker through a working emitter comes first: the other one never arrives
    emitter.emit('news', 'marker')
    assert client.receive(timeout=5) == ['news', 'marker']


def test_emits_resume_after_redis_restarts_once_the_server_resubscribes(
        start_gunicorn, tmp_path, logged_in, connect_to):
    port, password = free_port(), secrets.token_urlsafe()
    with redis_server(tmp_path, port, password) as redis_url:
        server = start_gunicorn(redis_url=redis_url)
        subscribe(server.url, redis_url)
        client = connect_to(server.url, logged_in(server.url))
        assert client.receive(timeout=5) == WELCOME
        emitter = flask_socketio.SocketIO(message_queue=redis_url)
    emitter.emit('news', 'lost while Redis is down')
    with redis_server(tmp_path, port, password):  # the same Redis, back
        back = time.monotonic()
        # the server's listener is still waiting out its backoff...
        assert subscribers(redis_url) == 0
        emitter.emit('news', 'lost before the server resubscribes')
        wait_until(lambda: subscribers(redis_url) == 1, 'the server to resubscribe')
        print(f'resubscribed {time.monotonic() - back:.1f} s after Redis was back')
        emitter.emit('news', 'after')
        # ...and the client, told of nothing, hears again from then on
        assert client.receive(timeout=5) == ['news', 'after']
    assert 'Cannot receive from redis... retrying in 1 secs' in server.log.read_text()


WELCOME_PACKET = '42["welcome",{"username":"python"}]'
REFUSED_PACKET = '44{"message":"Connection rejected by server"}'


@pytest.mark.parametrize(('edits', 'headers', 'page_origin', 'expected'), [
    pytest.param([], {}, lambda url: PAGE_ORIGIN, WELCOME_PACKET, id='the block as shown'),
    # python-engineio: 400 Invalid websocket upgrade
    pytest.param([('proxy_set_header Upgrade $http_upgrade;', '')], {},
                 lambda url: PAGE_ORIGIN, 400, id='without Upgrade'),
    # a broken answer, and a traceback in the server's log
    pytest.param([('proxy_set_header Connection $connection_upgrade;', '')], {},
                 lambda url: PAGE_ORIGIN, "Invalid status line: 'HTTP/1.1 None'",
                 id='without Connection'),
    # nginx sends the name of the upstream instead, Host: myproject, and no
    # X-Forwarded-Host: the Origin check's 400 Not an accepted origin, as in
    # the three below
    pytest.param([('proxy_set_header Host $host;', ''),
                  ('proxy_set_header X-Forwarded-Host $host;', '')], {},
                 lambda url: PAGE_ORIGIN, 400, id='without Host and X-Forwarded-Host'),
    pytest.param([('proxy_set_header X-Forwarded-Proto $scheme;', '')], {},
                 lambda url: PAGE_ORIGIN, 400, id='without X-Forwarded-Proto'),
    # a page served on nginx's own port, not 443: its Origin names the port
    pytest.param([], {}, lambda url: url, 400, id='on another port'),
    pytest.param([('Host $host;', 'Host $host:$server_port;')], {}, lambda url: url,
                 WELCOME_PACKET, id='on another port, with the port in Host'),
    # a load balancer in front ends TLS, and says so in X-Forwarded-Proto
    pytest.param(WITHOUT_TLS, {'X-Forwarded-Proto': 'https'}, lambda url: PAGE_ORIGIN, 400,
                 id='TLS ended in front'),
    pytest.param([*WITHOUT_TLS,
                  ('X-Forwarded-Proto $scheme;', 'X-Forwarded-Proto $http_x_forwarded_proto;')],
                 {'X-Forwarded-Proto': 'https'}, lambda url: PAGE_ORIGIN, WELCOME_PACKET,
                 id="TLS ended in front, with the load balancer's X-Forwarded-Proto"),
    # a script's WebSocket that names another site in its Origin, and the
    # same site in X-Forwarded-Host: python-engineio's Origin check allows
    # the origin of X-Forwarded-Proto and X-Forwarded-Host too
    pytest.param([], {'X-Forwarded-Host': 'evil.example'}, lambda url: 'https://evil.example',
                 400, id="a client's X-Forwarded-Host"),
    pytest.param([('proxy_set_header X-Forwarded-Host $host;', '')],
                 {'X-Forwarded-Host': 'evil.example'}, lambda url: 'https://evil.example',
                 WELCOME_PACKET, id="a client's X-Forwarded-Host, passed on"),
])
def test_a_websocket_through_nginx_needs_each_line_of_the_block(
        servers, start_nginx, logged_in, edits, headers, page_origin, expected):
    url = start_nginx(servers, edits).url
    # a page's WebSocket, with the Origin a browser sends for it, and a cookie
    # from a login straight to gunicorn, which the edits leave alone
    assert welcome_or_refusal(url, logged_in(servers[0]), page_origin(url), headers) == expected


def nginx_t(conf_path):
    """What `nginx -t` says of the configuration at conf_path: its exit code, its words."""
    result = subprocess.run(nginx_command(conf_path) + ['-t'],
                            capture_output=True, text=True, check=False, timeout=30)
    return result.returncode, result.stderr


def test_the_block_as_pasted_passes_nginx_t(tls, tmp_path):
    # only the name and certificate changed: the certificate must exist for nginx -t
    returncode, said = nginx_t(nginx_conf(tmp_path, tls))
    assert returncode == 0, said
    assert 'test is successful' in said


def test_the_block_cannot_stand_beside_debians_default_site(tls, tmp_path):
    # sites-enabled/default as Debian installs it, in the same http {} block
    site = nginx_conf(tmp_path, tls).with_name('site.conf')
    site.write_text(site.read_text() + Path('/etc/nginx/sites-available/default').read_text())
    returncode, said = nginx_t(site.with_name('nginx.conf'))
    # both claim port 80's default_server: remove Debian's link, as the block says
    assert returncode == 1
    assert 'a duplicate default server for 0.0.0.0:80' in said


@pytest.fixture(scope='module')
def nginx_as_configured(servers_as_configured, tls, tmp_path_factory):
    """nginx as README.md shows it, with TLS, in front of both servers as configured."""
    with nginx(servers_as_configured, tmp_path_factory.mktemp('nginx'), tls) as proxy:
        yield proxy


def test_over_https_the_session_cookie_is_secure_and_http_moves_to_https(
        nginx_as_configured, new_session):
    session = new_session()
    url = nginx_as_configured.url
    login = session.post(url + '/login', headers={'Referer': PAGE_ORIGIN + '/login'}, data={
        'username': 'python', 'password': 'is-great!', 'csrf_token': csrf_token(session, url)})
    assert login.status_code == 200
    # the environment file's SESSION_COOKIE_SECURE: the browser sends it back over https only
    assert 'Secure' in login.headers['Set-Cookie'].split('; ')
    # and browsers are told to use https for a year, even where a link says http
    assert login.headers['Strict-Transport-Security'] == 'max-age=31536000'
    # a page asked for over http moves to https, before any cookie goes anywhere
    moved = requests.get(nginx_as_configured.http_url + '/login', allow_redirects=False)
    assert (moved.status_code, moved.headers['Location']) == (301, f'https://{HOST}/login')
    # the Secure cookie, over wss://, gets the welcome
    assert welcome_or_refusal(url, session, PAGE_ORIGIN) == WELCOME_PACKET


def test_the_block_answers_no_other_name(nginx_as_configured, tls):
    port = int(nginx_as_configured.url.rsplit(':', 1)[1])
    context = ssl.create_default_context(cafile=tls['authority'])
    # TLS for another name, as a DNS rebinding page would ask for: no handshake
    with (pytest.raises(ssl.SSLError, match='UNRECOGNIZED_NAME'),
          socket.create_connection(('127.0.0.1', port)) as raw):
        context.wrap_socket(raw, server_hostname='evil.example')
    # the right name for TLS, another in Host, and an Origin to match it, which
    # would pass the Origin check: nginx hangs up without a word
    connection = http.client.HTTPSConnection(HOST, port, context=context, timeout=5)
    connection.request('GET', '/socket.io/?EIO=4&transport=polling',
                       headers={'Host': 'evil.example', 'Origin': 'https://evil.example'})
    with pytest.raises(http.client.RemoteDisconnected):
        connection.getresponse()
    # and the same over plain http
    with pytest.raises(requests.ConnectionError):
        requests.get(nginx_as_configured.http_url + '/login', headers={'Host': 'evil.example'})


@pytest.mark.parametrize(('referer', 'status', 'said'), [
    pytest.param(None, 400, 'The referrer header is missing.', id='no Referer'),
    pytest.param('https://elsewhere.example/', 400, 'The referrer does not match the host.',
                 id='another site'),
    pytest.param(PAGE_ORIGIN + '/login', 200, '', id="the app's login page"),
])
def test_the_login_over_https_needs_the_referer_of_the_apps_page(
        nginx_as_configured, new_session, referer, status, said):
    session = new_session()
    url = nginx_as_configured.url
    headers = {'Referer': referer} if referer else {}
    response = session.post(url + '/login', headers=headers, data={
        'username': 'python', 'password': 'is-great!', 'csrf_token': csrf_token(session, url)})
    # a valid token is not enough over https: Flask-WTF wants the page's Referer too
    assert response.status_code == status
    assert said in response.text


def test_the_apps_log_names_the_clients_address_not_a_forged_one(
        start_gunicorn, start_nginx, logged_in):
    server = start_gunicorn()
    url = start_nginx([server.url, server.url], WITHOUT_TLS).url
    session = logged_in(url)
    # a client at 127.0.0.9, which says it is 203.0.113.9
    port = int(url.rsplit(':', 1)[1])
    ws = websocket.create_connection(
        f'ws://{HOST}:{port}/socket.io/?EIO=4&transport=websocket', origin=PAGE_OF_PLAIN_NGINX,
        socket=socket.create_connection(('127.0.0.1', port), source_address=('127.0.0.9', 0)),
        header={'X-Forwarded-For': '203.0.113.9'}, cookie='session=' + session.cookies['session'])
    try:
        ws.recv()  # Engine.IO's open packet
        ws.send('40')  # Socket.IO's connect to /
        assert ws.recv() == WELCOME_PACKET
    finally:
        ws.close(timeout=0)
    # nginx put the client's own address in X-Forwarded-For, and ProxyFix,
    # after init_app(), gave it to the connect handler
    log = server.log.read_text()
    assert 'python connected from 127.0.0.9' in log
    assert '203.0.113.9' not in log


def test_websocket_gets_through_nginx_with_or_without_ip_hash(
        nginx_ip_hash, nginx_round_robin, logged_in, connect_to):
    for url in nginx_ip_hash, nginx_round_robin:
        # a WebSocket is one connection, so it stays with one server
        client = connect_to(url, logged_in(url), origin=PAGE_OF_PLAIN_NGINX)
        assert client.receive(timeout=5) == WELCOME


def test_polling_through_nginx_needs_ip_hash(
        nginx_ip_hash, nginx_round_robin, logged_in, connect_to):
    # with ip_hash, each request of a client reaches the server that knows its session
    client = connect_to(nginx_ip_hash, logged_in(nginx_ip_hash), transports=['polling'])
    assert client.receive(timeout=5) == WELCOME
    # taking turns, the next request reaches the other server, which knows no
    # such session: the namespace's connect never comes, and the client gives up
    with pytest.raises(python_socketio.exceptions.ConnectionError,
                       match='Unexpected connection error'):
        connect_to(nginx_round_robin, logged_in(nginx_round_robin), transports=['polling'],
                   wait_timeout=0.5)


@pytest.mark.parametrize(('balancing', 'processes_reached'), [
    pytest.param('ip_hash;', 1, id='ip_hash'),
    pytest.param('hash $remote_addr consistent;', 2, id='hash $remote_addr'),
])
def test_ip_hash_sends_all_of_a_slash_24_to_one_process(
        servers, start_nginx, balancing, processes_reached):
    proxy = start_nginx(servers, [*WITHOUT_TLS, ('ip_hash;', balancing)])
    for host in range(1, 41):
        # a client at 127.0.0.<host>
        connection = http.client.HTTPConnection(
            '127.0.0.1', int(proxy.url.rsplit(':', 1)[1]),
            source_address=(f'127.0.0.{host}', 0), timeout=5)
        connection.request('HEAD', '/login', headers={'Host': HOST})
        connection.getresponse()
        connection.close()
    # nginx's access log: each client's address, and the process that answered it
    reached = {}
    for line in proxy.access_log.read_text().splitlines():
        upstream = line.split()[1]
        reached[upstream] = reached.get(upstream, 0) + 1
    print(f'{balancing} 40 addresses of 127.0.0.0/24: {sorted(reached.values())}')
    assert len(reached) == processes_reached


def test_after_failover_a_client_is_back_in_the_rooms_its_connect_handler_joins(
        servers_to_stop, start_nginx, logged_in, connect_to, emitter):
    proxy = start_nginx([server.url for server in servers_to_stop], WITHOUT_TLS)
    session = logged_in(proxy.url)
    # nginx's access log names the process that 127.0.0.1's requests reach
    upstream = 'http://' + proxy.access_log.read_text().split()[-1]
    [holder] = [server for server in servers_to_stop if server.url == upstream]
    client = connect_to(proxy.url, session, origin=PAGE_OF_PLAIN_NGINX, reconnection=True)
    assert client.receive(timeout=5) == WELCOME
    assert client.call('join', 'lobby', timeout=5) is True  # a room joined by an event
    first_sid = client.sid
    kill(holder.process)  # as if its machine went down
    wait_until(lambda: client.sid not in (None, first_sid),
               'the client to reconnect, through nginx, to the other process')
    # the other process welcomed it again
    assert client.receive(timeout=5) == WELCOME
    emitter.emit('news', 'to the lobby', to='lobby')
    emitter.emit('news', 'to python', to=user_room('python'))
    # in the room its connect handler joins, and no longer in the lobby
    assert client.receive(timeout=5) == ['news', 'to python']


@pytest.mark.parametrize('transport', ['websocket', 'polling'])
def test_nginx_drops_a_connection_quieter_than_its_proxy_read_timeout(
        servers, start_nginx, logged_in, connect_to, transport):
    # the servers ping every second; nginx waits half of that for their next word
    url = start_nginx(servers, [*WITHOUT_TLS, ('proxy_pass http://myproject;',
                                 'proxy_pass http://myproject; proxy_read_timeout 500ms;')]).url
    client = connect_to(url, logged_in(url), transports=[transport], origin=PAGE_OF_PLAIN_NGINX)
    assert client.receive(timeout=5) == WELCOME
    wait_until(lambda: not client.connected, 'nginx to drop the connection', timeout=5)


def test_one_broadcast_reaches_each_of_100_clients_exactly_once(
        servers, logged_in, connect_to, emitter):
    sessions = [logged_in(url) for url in servers]
    clients = [connect_to(servers[n % 2], sessions[n % 2]) for n in range(100)]
    # 50 on each server, all in
    assert all(client.receive(timeout=5) == WELCOME for client in clients)
    emitter.emit('news', 'for everyone')
    # every client gets it...
    assert all(client.receive(timeout=10) == ['news', 'for everyone'] for client in clients)
    # ...and, before a marker sent once they all had it, nothing more
    emitter.emit('news', 'marker')
    assert all(client.receive(timeout=10) == ['news', 'marker'] for client in clients)


def test_each_open_websocket_holds_one_of_gunicorns_threads(
        start_gunicorn, logged_in, connect_to):
    # gunicorn.conf.py's 100 threads made 2, by gunicorn's own variable
    url = start_gunicorn({'GUNICORN_CMD_ARGS': '--threads 2'}).url
    session = logged_in(url)
    session.close()  # its keep-alive connection would hold one too
    first = connect_to(url, session)
    connect_to(url, session)
    # both are taken, so even a plain HTTP request waits
    with pytest.raises(requests.Timeout):
        requests.get(url + '/login', timeout=0.5)
    # until a WebSocket closes and gives its place back
    first.disconnect()
    assert requests.get(url + '/login', timeout=5).status_code == 200


def test_sigterm_waits_the_graceful_timeout_for_open_websockets(
        start_gunicorn, logged_in, connect_to):
    server = start_gunicorn()
    clients = [connect_to(server.url, logged_in(server.url)) for _ in range(3)]
    start = time.monotonic()
    server.process.terminate()
    server.process.wait(timeout=10)
    stopped_after = time.monotonic() - start
    # WebSockets do not end by themselves: gunicorn waits the graceful_timeout
    # of gunicorn.conf.py, 3 s, then cuts them
    assert 3 <= stopped_after < 4.5
    wait_until(lambda: not any(client.connected for client in clients),
               'the clients to see their connections close')


def raw_websocket_from(address, url, session=None, origin=None):
    """A WebSocket to the server or nginx at url, from a client at address of
    127.0.0.0/8, with session's cookie and the Origin given, its open packet
    read: what a script can send, that writes Socket.IO packets by hand.
    Close it at the end."""
    host, port = url.split('://')[1].split(':')
    ws = websocket.create_connection(
        f'ws://{host}:{port}/socket.io/?EIO=4&transport=websocket', origin=origin,
        socket=socket.create_connection(('127.0.0.1', int(port)), source_address=(address, 0)),
        cookie=f'session={session.cookies["session"]}' if session else None, timeout=5)
    ws.recv()  # Engine.IO's open packet
    return ws


def test_a_logout_on_one_server_ends_that_login_on_both(servers, logged_in, connect_to,
                                                        new_session):
    session = logged_in(servers[0])
    # the cookie, as someone who read it off the screen copied it
    copied = new_session()
    copied.cookies.set('session', session.cookies['session'])
    ws = raw_websocket_from('127.0.0.1', servers[1], session)
    try:
        ws.send('40')  # Socket.IO's connect to /
        assert [next_packet(ws), next_packet(ws)[:2]] == [WELCOME_PACKET, '40']
        # python on another device, on either server
        elsewhere = logged_in(servers[1])
        other_socket = connect_to(servers[0], elsewhere)
        logout = session.post(servers[0] + '/logout',
                              data={'csrf_token': csrf_token(session, servers[0])})
        assert logout.status_code == 200
        # the other server closed the namespace, through Redis...
        assert next_packet(ws) == '41'
        # ...and refuses a connect on the same transport, whose saved copy of
        # the session names a login that has ended
        assert connect_again(ws) == REFUSED_PACKET
    finally:
        ws.close(timeout=0)
    # the copied cookie gets nothing from either server
    assert [copied.get(url + '/me').status_code for url in servers] == [401, 401]
    with pytest.raises(python_socketio.exceptions.ConnectionError):
        connect_to(servers[1], copied)
    # python's other login stays, on both servers
    assert [elsewhere.get(url + '/me').json() for url in servers] == [{'username': 'python'}] * 2
    assert other_socket.receive(timeout=5) == WELCOME
    assert other_socket.connected


def test_sids_of_a_dead_process_expire(
        servers, start_gunicorn, redis_url, logged_in, connect_to):
    server = start_gunicorn()
    session = logged_in(server.url)
    client = connect_to(server.url, session)
    assert client.receive(timeout=5) == WELCOME
    sid = client.sid
    kill(server.process)  # as if its machine went down: nobody forgets its sids
    with redis.Redis.from_url(redis_url) as queue:
        [key] = [key for key in queue.scan_iter('myproject:connections:*')
                 if queue.sismember(key, sid)]
        # the record goes when the login would, 31 days after its last connect
        assert 0 < queue.ttl(key) <= 31 * 24 * 3600
    # and a logout on a live process answers as ever, though the sid is gone
    logout = session.post(servers[0] + '/logout',
                          data={'csrf_token': csrf_token(session, servers[0])})
    assert logout.status_code == 200


def test_a_login_is_answered_while_100_anonymous_sockets_try_to_connect(
        servers, start_nginx, new_session):
    url = start_nginx(servers, WITHOUT_TLS).url
    held, refused = [], []
    try:
        for _ in range(100):
            # a script at 127.0.0.9, with no cookie: each socket it gets holds
            # one of gunicorn's threads for as long as it is open
            try:
                held.append(raw_websocket_from('127.0.0.9', url, origin=PAGE_OF_PLAIN_NGINX))
            except websocket.WebSocketBadStatusException as refusal:
                refused.append(refusal.status_code)
        # python, at 127.0.0.1, whom ip_hash sends to the same process: the login page
        # and its form, each answered within 2 s
        start = time.monotonic()
        session = new_session()
        page = session.get(url + '/login', timeout=2)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        login = session.post(url + '/login', timeout=2, data={
            'username': 'python', 'password': 'is-great!', 'csrf_token': token})
        took = time.monotonic() - start
    finally:
        for ws in held:
            ws.close(timeout=0)
    print(f'{len(held)} sockets held, {len(refused)} refused; the login took {took:.2f} s')
    # nginx's limit_conn: so many per address, the rest 429; and the login went through
    limit = int(re.search(r'limit_conn addresses (\d+);', NGINX_SITE.read_text()).group(1))
    assert (len(held), set(refused)) == (limit, {429})
    assert login.status_code == 200


def test_login_attempts_from_one_address_are_limited(servers, start_nginx, new_session):
    url = start_nginx(servers, WITHOUT_TLS).url
    session = new_session()
    token = csrf_token(session, url)
    statuses = [session.post(url + '/login', data={
        'username': 'python', 'password': f'guess {number}', 'csrf_token': token}).status_code
        for number in range(15)]
    # a first attempt and a burst of 10 reach the app, then nginx's 429
    # until 6 s have passed
    assert statuses == [401] * 11 + [429] * 4
    # the login page itself is not limited
    assert session.get(url + '/login').status_code == 200


def test_a_socket_without_a_namespace_soon_gives_its_thread_back(start_gunicorn):
    server = start_gunicorn({'GUNICORN_CMD_ARGS': '--threads 2',
                             'SOCKETIO_CONNECT_TIMEOUT': '0.5'})  # 5 s unless told
    # two scripts' WebSockets with no cookie, which take both of gunicorn's
    # threads: one refused at its connect, one that never asks for a namespace
    sockets = [raw_websocket_from('127.0.0.1', server.url) for _ in range(2)]
    try:
        start = time.monotonic()
        sockets[0].send('40')
        assert next_packet(sockets[0]) == REFUSED_PACKET
        # each answers every ping, and the close that ends its WebSocket
        assert [next_packet(ws) for ws in sockets] == [None, None]
        took = time.monotonic() - start
    finally:
        for ws in sockets:
            ws.close(timeout=0)
    print(f'the server closed both after {took:.2f} s')
    # their threads are back
    assert requests.get(server.url + '/login', timeout=1).status_code == 200


def test_csrf_wants_the_referer_where_gunicorn_trusts_no_proxy(
        start_gunicorn, start_nginx, new_session):
    # nginx at an address that gunicorn's forwarded_allow_ips leaves out, as
    # on another machine: gunicorn no longer turns X-Forwarded-Proto into https
    server = start_gunicorn({'GUNICORN_CMD_ARGS': '--forwarded-allow-ips 192.0.2.1'})
    url = start_nginx([server.url, server.url]).url
    session = new_session()
    response = session.post(url + '/login', data={
        'username': 'python', 'password': 'is-great!', 'csrf_token': csrf_token(session, url)})
    # no Referer: refused, as the app knows from ProxyFix, whose x_proto is 1
    # unless told otherwise, that the request came over https
    assert response.status_code == 400
    assert 'The referrer header is missing.' in response.text


def test_nginx_names_no_version(nginx_as_configured, new_session):
    response = new_session().get(nginx_as_configured.url + '/login')
    assert response.headers['Server'] == 'nginx'


def test_the_block_names_the_nginx_it_needs():
    # ssl_reject_handshake came with nginx 1.19.4
    assert 'For nginx 1.19.4 or newer' in NGINX_SITE.read_text()
    nginx = nginx_command(NGINX_SITE)[0]  # the one the tests run
    said = subprocess.run([nginx, '-v'], capture_output=True, text=True, check=True).stderr
    assert tuple(map(int, re.search(r'nginx/(\d+)\.(\d+)\.(\d+)', said).groups())) >= (1, 19, 4)

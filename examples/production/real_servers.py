"""The real servers the production tests run: gunicorn as gunicorn.conf.py
and myproject.env.template set it up, Redis, and nginx with the block of
nginx.conf."""
import contextlib
import dataclasses
import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import urllib.parse
from pathlib import Path

import redis
import requests

from live import printed_url, running, wait_until

HERE = Path(__file__).parent
PROJECT = HERE.parent  # the folder that holds myproject.py
NGINX_SITE = HERE / 'nginx.conf'  # the block README.md shows
GUNICORN_CONF = HERE / 'gunicorn.conf.py'
ENVIRONMENT_FILE = HERE / 'myproject.env.template'  # what /etc/myproject.env starts as
SECRET_KEY = secrets.token_hex()  # every server process gets this one
CHANNEL = 'flask-socketio'  # the Redis channel Flask-SocketIO's queue uses
# The tests' name for example.com, which resolves to 127.0.0.1 everywhere.
HOST = 'localhost'
# What a browser sends as the Origin of a page at https://localhost/: no port,
# as 443 is https's own. nginx's $host drops the port too, so the Origin check
# sees the same origin, though the tests' nginx listens on a free port.
PAGE_ORIGIN = f'https://{HOST}'
# The block without TLS, for the tests whose client is python-socketio's: over
# wss:// its reading and writing threads share one SSL socket, and race
# (python-engineio#461). The Origin of a page served so is http://localhost.
WITHOUT_TLS = [('listen 443 ssl default_server;', 'listen 443 default_server;'),
               ('listen 443 ssl;', 'listen 443;')]
# What the tests set beyond the placeholders: a ping every second, not 25, so
# that what waits for a ping (a polling client's disconnect) shows at once.
FAST_PINGS = {'SOCKETIO_PING_INTERVAL': '1'}
# And for the tests whose clients talk plain http to gunicorn, or to nginx
# WITHOUT_TLS: requests sends a Secure cookie back over https only.
OVER_HTTP = {'SESSION_COOKIE_SECURE': 'false'}


def free_port():
    """A port of 127.0.0.1 that was free a moment ago."""
    with socket.create_server(('127.0.0.1', 0)) as probe:
        return probe.getsockname()[1]


def environment_file(**values):
    """The template's variables, read as systemd's EnvironmentFile= reads its
    plain KEY=value lines, with the named placeholders given values."""
    variables = dict(line.split('=', 1) for line in ENVIRONMENT_FILE.read_text().splitlines()
                     if line and not line.startswith('#'))
    for name, value in values.items():
        # each is there, or the file changed and the test says so
        assert name in variables, f'{name} is not in {ENVIRONMENT_FILE}'
        variables[name] = value
    return variables


def gunicorn_command():
    """The command gunicorn.conf.py shows, as its environment and argv."""
    [line] = re.findall(r'^ +(PORT=\S+ gunicorn .*)$', GUNICORN_CONF.read_text(), re.MULTILINE)
    port, program, *arguments = shlex.split(line)
    # the venv's own gunicorn, whether or not its bin folder is on PATH
    return dict([port.split('=')]), [shutil.which(program, path=Path(sys.executable).parent),
                                     *arguments]


def wait_for_http(url, process, log_path, **request_options):
    """Return once the server answers at url; fail with its log if it does not."""
    try:
        # the socket already listens, so this waits until the server takes it
        requests.get(url, timeout=10, **request_options)
    except requests.RequestException as error:
        raise RuntimeError(f'no answer at {url} ({error}):\n{log_path.read_text()}') from None
    if process.poll() is not None:
        raise RuntimeError(f'the server at {url} exited:\n{log_path.read_text()}')


@dataclasses.dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path


@contextlib.contextmanager
def gunicorn(folder, redis_url, env=()):
    """One gunicorn process as README.md runs it, on a free port, with our key
    and Redis, and env added; yields its Server. wait_for_it() waits until it
    answers."""
    port, command = gunicorn_command()
    log_path = folder / f'gunicorn-{secrets.token_hex(4)}.log'
    env = {**environment_file(SECRET_KEY=SECRET_KEY, SOCKETIO_MESSAGE_QUEUE=redis_url),
           # PORT=0: the system picks a free port, which gunicorn prints
           **{name: '0' for name in port}, **FAST_PINGS, **dict(env)}
    with running(command, log_path, cwd=PROJECT, env=env) as process:
        yield Server(printed_url(process, log_path), process, log_path)


def wait_for_it(server):
    """The server, once it answers."""
    wait_for_http(server.url, server.process, server.log)
    return server


@contextlib.contextmanager
def gunicorn_pair(folder, redis_url, env=()):
    """Two gunicorn processes that share SECRET_KEY and the queue, as README.md
    runs them, started side by side; both listen on the queue."""
    with gunicorn(folder, redis_url, env) as a, gunicorn(folder, redis_url, env) as b:
        for server in a, b:
            wait_for_it(server)
            subscribe(server.url, redis_url)
        yield a, b


def subscribers(redis_url):
    """How many server processes listen on the queue."""
    with redis.Redis.from_url(redis_url) as queue:
        [(_, count)] = queue.pubsub_numsub(CHANNEL)
        return count


def subscribe(url, redis_url):
    """Have the server at url listen on the queue now. It subscribes at its
    first Engine.IO connection (socketio/server.py), so an emit that comes
    before is lost to its clients; open one, and wait until it listens."""
    before = subscribers(redis_url)
    requests.get(url + '/socket.io/?EIO=4&transport=polling', timeout=5).raise_for_status()
    wait_until(lambda: subscribers(redis_url) > before, f'{url} to subscribe to Redis')


@contextlib.contextmanager
def redis_server(folder, port, password):
    """A redis-server of our own on port, which saves nothing to disk; yields
    its URL, with the password percent-encoded."""
    # the password in a file, in pytest's own temporary folder: on the command
    # line, `ps` would show it to every user of the machine. In quotes, with
    # its backslashes and quotes escaped, as redis.conf reads it.
    quoted = '"' + password.replace('\\', '\\\\').replace('"', '\\"') + '"'
    conf_path = folder / 'redis.conf'
    conf_path.write_text(f'bind 127.0.0.1\nport {port}\nrequirepass {quoted}\n'
                         f'dir {folder}\nsave ""\nappendonly no\n')
    log_path = folder / 'redis.log'
    with running(['redis-server', conf_path], log_path) as process:
        client = redis.Redis(port=port, password=password, socket_timeout=1)

        def ours_answers():  # a redis-server of another could hold the port
            if process.poll() is not None:
                raise RuntimeError(f'redis-server exited:\n{log_path.read_text()}')
            try:
                return client.info('server')['process_id'] == process.pid
            except redis.RedisError:
                return False  # not up yet

        wait_until(ours_answers, f'redis-server on port {port}')
        client.close()
        # WALKTHROUGH.md's recipe: any character survives, percent-encoded
        yield f'redis://:{urllib.parse.quote(password, safe="")}@127.0.0.1:{port}'


NGINX_CONF = '''\
daemon off;  # in the foreground, as the tests' child
pid {folder}/nginx.pid;
error_log stderr;
events {{}}
http {{
    # which process answered each client, for the tests that need to know
    log_format upstream '$remote_addr $upstream_addr';
    access_log {folder}/access.log upstream;
    # folders of its own, not the system's /var/lib/nginx
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    # the block of production/nginx.conf, as Debian's nginx.conf includes a site
    include {folder}/site.conf;
}}
'''


def nginx_conf(folder, tls, edits=()):
    """Write an nginx.conf to folder that includes the site block, with
    example.com and its certificate made the tests' own, and each edit made;
    return its path."""
    site = NGINX_SITE.read_text()
    for old, new in [*edits,
                     ('/etc/letsencrypt/live/example.com/fullchain.pem', str(tls['certificate'])),
                     ('/etc/letsencrypt/live/example.com/privkey.pem', str(tls['key'])),
                     ('server_name example.com;', f'server_name {HOST};')]:
        # each edit finds what it changes, or the block changed and the test says so
        assert old in site, f'{old!r} is not in {NGINX_SITE}'
        site = site.replace(old, new)
    (folder / 'site.conf').write_text(site)
    conf_path = folder / 'nginx.conf'
    conf_path.write_text(NGINX_CONF.format(folder=folder))
    return conf_path


def nginx_command(conf_path):
    # Debian puts nginx in /usr/sbin, which a user's PATH may leave out
    return [shutil.which('nginx', path=os.environ['PATH'] + ':/usr/sbin') or 'nginx',
            '-p', conf_path.parent, '-c', conf_path, '-e', 'stderr']


@dataclasses.dataclass
class Nginx:
    url: str  # the block's https:// one, or http:// WITHOUT_TLS
    http_url: str  # its port-80 side, which answers example.com with a redirect
    access_log: Path  # a line per request: the client's address, the process that answered


@contextlib.contextmanager
def nginx(server_urls, folder, tls, edits=()):
    """nginx running the site block on free ports of 127.0.0.1, in front of
    the two servers, with edits made to the block; yields its Nginx."""
    with socket.create_server(('127.0.0.1', 0)) as main, \
            socket.create_server(('127.0.0.1', 0)) as plain:
        port, plain_port = main.getsockname()[1], plain.getsockname()[1]
        first, second = (url.removeprefix('http://') for url in server_urls)
        conf_path = nginx_conf(folder, tls, [
            *edits,
            ('listen 443', f'listen 127.0.0.1:{port}'),
            ('listen 80', f'listen 127.0.0.1:{plain_port}'),
            ('server 127.0.0.1:8000;', f'server {first};'),
            ('server 127.0.0.1:8001;', f'server {second};')])
        scheme = 'https' if ' ssl;' in (folder / 'site.conf').read_text() else 'http'
        # nginx takes over the sockets that NGINX names, as in its binary upgrade
        env = {'NGINX': f'{main.fileno()};{plain.fileno()};'}
        log_path = folder / 'nginx.log'
        with running(nginx_command(conf_path), log_path, env=env,
                     pass_fds=[main.fileno(), plain.fileno()]) as process:
            main.close()
            plain.close()
            url = f'{scheme}://{HOST}:{port}'
            wait_for_http(url, process, log_path, verify=tls['authority'])
            yield Nginx(url, f'http://{HOST}:{plain_port}', folder / 'access.log')

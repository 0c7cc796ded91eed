"""A small project shaped like many real ones: an app factory, Socket.IO
handlers with rooms, and settings read from the environment, which
/etc/myproject.env sets in production (production/myproject.env.template)."""
import functools
import os
import secrets
import time

from flask import Blueprint, Flask, abort, current_app, render_template_string, request
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_required,
    login_user,
    logout_user,
    user_logged_out,
)
from flask_socketio import SocketIO, disconnect, emit, join_room, rooms
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

login_manager = LoginManager()
socketio = SocketIO()
csrf = CSRFProtect()
auth = Blueprint('auth', __name__)

allowed_users = {'foo': 'bar', 'python': 'is-great!'}  # stands in for a database
public_rooms = {'lobby', 'help'}  # the rooms that any user may join
MAX_MESSAGE_LENGTH = 1000  # the most characters that `say` relays
# The logins that have not logged out: each one's own id, which its session
# holds, and its user. The session cookie is signed, not stored, so a copy of
# it taken before a logout would stay good for as long as the cookie lives:
# the user_loader takes a login id only while it is on this record.
logins = {}
# Each login's open connections, by sid, for its logout to close them all.
# With a message queue, several processes serve the app: both records are
# then in Redis, which every process sees. Without one, they are these dicts.
connections = {}

LOGIN_PAGE = '''<form method="post">
  <input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
  <input name="username"> <input name="password" type="password"> <button>Log in</button>
</form>'''


class User(UserMixin):
    def __init__(self, username, login_id):
        self.id = username
        self.login_id = login_id

    def get_id(self):
        # What Flask-Login keeps in the session: not the user's id, but this
        # login's own (Flask-Login's "Alternative Tokens"), for a logout to end.
        return self.login_id


@login_manager.user_loader
def user_loader(login_id):
    # a login that has not logged out, of a user that is still known
    username = user_of_login(login_id) if isinstance(login_id, str) else None
    return User(username, login_id) if username in allowed_users else None


@auth.get('/login')
def login_page():
    return render_template_string(LOGIN_PAGE)


@auth.post('/login')
def login():
    username = request.form['username']
    password = request.form['password']
    if username not in allowed_users or allowed_users[username] != password:
        abort(401)
    login_user(User(username, start_login(username)))
    return ''


@auth.post('/logout')
def logout():
    logout_user()
    return ''


@auth.get('/me')
@login_required
def me():
    return {'username': current_user.id}


def user_room(user_id):
    """The room of a user's own connections, for what is meant for them. Named
    so that no public room can take the name, nor a user that of a public room."""
    return f'user:{user_id}'


def from_the_server_only(handler):
    """For connect and disconnect handlers, functions or a Namespace's methods.
    A client can send events named connect and disconnect, which python-socketio
    hands to these same handlers: the server's own calls come while the sid is
    still connecting, or already disconnecting, a client's event only while it
    is connected."""
    @functools.wraps(handler)
    def guarded_handler(*args):
        if socketio.server.manager.is_connected(request.sid, request.namespace):
            return False  # an event the client sent: nothing happens
        return handler(*args)
    return guarded_handler


@socketio.on('connect')
@from_the_server_only
def on_connect():
    if current_user.is_anonymous:
        return False
    current_app.logger.info('%s connected from %s', current_user.id, request.remote_addr)
    remember_connection(current_user.get_id(), request.sid)
    # Rooms end with the connection, so join it here: a client that
    # reconnects, perhaps to another process, is back in it.
    join_room(user_room(current_user.id))
    emit('welcome', {'username': current_user.id})


@socketio.on('disconnect')
@from_the_server_only
def on_disconnect(reason):
    if current_user.is_authenticated:
        forget_connection(current_user.get_id(), request.sid)


def authenticated_only(handler):
    """For event handlers: a client whose user is no longer known (removed
    since it connected, say) is disconnected, and the handler does not run."""
    @functools.wraps(handler)
    def guarded_handler(*args):
        if not current_user.is_authenticated:
            disconnect()
            return False  # disconnect() does not stop this function: leave now
        return handler(*args)
    return guarded_handler


# A client can send any number of arguments, of any type: `match` takes only
# the shape a handler expects, and anything else gets False as its answer.
@socketio.on('join')
@authenticated_only
def join(*message):
    match message:
        case [str(room)] if room in public_rooms:  # never another user's room
            join_room(room)
            return True
    return False


@socketio.on('say')
@authenticated_only
def say(*message):
    match message:
        case [str(room), str(text)] if room in rooms() and len(text) <= MAX_MESSAGE_LENGTH:
            # a room it has joined, and a message of a size to relay
            emit('said', {'from': current_user.id, 'text': text}, to=room, include_self=False)
            return True
    return False


@user_logged_out.connect
def end_their_login(app, user):
    # get_id(), not .login_id: a logout with nobody logged in sends an anonymous
    # user. This login only: the user's logins on other devices stay.
    if user.get_id() is not None:
        for sid in end_login(user.get_id()):
            # with a message queue, the process that holds the connection closes it
            disconnect(sid=sid, namespace='/')


# The records in Redis last as long as Flask takes the login's cookie, 31
# days unless PERMANENT_SESSION_LIFETIME says otherwise: the connections of a
# process that died, which nobody forgets, go with them.
def start_login(user_id):
    """Put a new login of user_id on the record; return its id."""
    login_id = secrets.token_urlsafe()
    if redis := current_app.extensions.get('myproject.redis'):
        redis.set(f'myproject:login:{login_id}', user_id,
                  ex=current_app.permanent_session_lifetime)
    else:
        logins[login_id] = user_id
    return login_id


def user_of_login(login_id):
    """The user of that login, or None once it has ended."""
    if redis := current_app.extensions.get('myproject.redis'):
        return redis.get(f'myproject:login:{login_id}')
    return logins.get(login_id)


def end_login(login_id):
    """End the login; return the sids of its open connections, which the
    record then forgets too."""
    if redis := current_app.extensions.get('myproject.redis'):
        key, login_key = f'myproject:connections:{login_id}', f'myproject:login:{login_id}'
        sids, _ = redis.pipeline().smembers(key).delete(key, login_key).execute()
        return sids
    logins.pop(login_id, None)
    return connections.pop(login_id, set())


def remember_connection(login_id, sid):
    if redis := current_app.extensions.get('myproject.redis'):
        key, lifetime = f'myproject:connections:{login_id}', current_app.permanent_session_lifetime
        redis.pipeline().sadd(key, sid).expire(key, lifetime).execute()
    else:
        connections.setdefault(login_id, set()).add(sid)


def forget_connection(login_id, sid):
    if redis := current_app.extensions.get('myproject.redis'):
        redis.srem(f'myproject:connections:{login_id}', sid)
    else:
        connections.get(login_id, set()).discard(sid)


def close_transports_without_a_namespace(server, timeout):
    """Close each Engine.IO transport that has had no Socket.IO namespace
    open for timeout seconds: its connect refused, never sent, or closed by
    the server at a logout. Engine.IO keeps a transport open for as long as
    its client answers pings, and each open WebSocket holds a server thread.
    Runs until a later init_app() replaces the server, as each test's app does."""
    idle_since = {}  # eio_sid: when it was first seen without a namespace
    while socketio.server is server:
        now = time.monotonic()
        namespaces = list(server.manager.get_namespaces())
        transports = dict(server.eio.sockets)
        for eio_sid, transport in transports.items():
            if any(server.manager.sid_from_eio_sid(eio_sid, name) for name in namespaces):
                idle_since.pop(eio_sid, None)
            elif now - idle_since.setdefault(eio_sid, now) >= timeout:
                # wait=False, as Engine.IO closes a client that stopped answering
                # pings: server.eio.disconnect() waits for the transport's queue,
                # which now and then waits forever (python-engineio#60)
                transport.close(wait=False)
        for eio_sid in set(idle_since) - set(transports):
            del idle_since[eio_sid]  # closed since
        server.sleep(timeout / 4)


def create_app(test_config=None):
    app = Flask(__name__)
    app.config.from_mapping(
        SECRET_KEY=os.environ.get('SECRET_KEY'),
        SESSION_COOKIE_SAMESITE='Lax',  # kept off other sites' form posts (browser/README.md)
        # the session cookie goes over https only, unless told otherwise
        SESSION_COOKIE_SECURE=os.environ.get('SESSION_COOKIE_SECURE') != 'false',
        # e.g. redis://localhost:6379 when several processes serve the app
        SOCKETIO_MESSAGE_QUEUE=os.environ.get('SOCKETIO_MESSAGE_QUEUE'),
        # threading under gunicorn's threads: unset, python-engineio takes the
        # first of eventlet, gevent and threading it can import (under `flask
        # run`, Flask-SocketIO picks threading)
        SOCKETIO_ASYNC_MODE=os.environ.get('SOCKETIO_ASYNC_MODE'),
        # seconds between the server's pings: the live tests make it short
        SOCKETIO_PING_INTERVAL=float(os.environ.get('SOCKETIO_PING_INTERVAL', '25')),
        # The largest Engine.IO packet a client may send, in bytes: a larger one
        # closes its connection. python-engineio's default is 1 MB, which `say`
        # would relay to a whole room.
        SOCKETIO_MAX_HTTP_BUFFER_SIZE=16_000,
        # Seconds a transport may stay open without a Socket.IO namespace
        # (close_transports_without_a_namespace): the live tests make it short
        SOCKETIO_CONNECT_TIMEOUT=float(os.environ.get('SOCKETIO_CONNECT_TIMEOUT', '5')),
        # The pages allowed to open a Socket.IO connection with the user's
        # cookie. None: only the origin the request was made to. Never '*',
        # alone or in a list, nor []: each switches the Origin check off.
        SOCKETIO_CORS_ALLOWED_ORIGINS=None,
        # How many proxies in front set X-Forwarded-For: 1 behind nginx. Never
        # without a proxy, where any client could name its own address.
        PROXY_FIX_X_FOR=int(os.environ.get('PROXY_FIX_X_FOR', '0')),
    )
    if test_config is not None:
        app.config.update(test_config)
    if app.config['SECRET_KEY'] in (None, '', 'replace-me'):
        # unset, or production/myproject.env.template's placeholder: with a key that
        # anyone can read, anyone can sign themselves a session
        raise RuntimeError('SECRET_KEY is not set: set it in the environment to a long random secret')
    app.logger.setLevel('INFO')  # who connected from where, in the server's log
    app.register_blueprint(auth)
    login_manager.init_app(app)
    csrf.init_app(app)
    queue = app.config['SOCKETIO_MESSAGE_QUEUE']
    if queue:
        import redis  # only a server with a queue needs the package

        # Fail here, at start, if Redis cannot be reached: a wrong address or
        # password would otherwise show only later, as failed connects and as
        # emits that never reach the other processes.
        app.extensions['myproject.redis'] = redis.Redis.from_url(queue, decode_responses=True)
        app.extensions['myproject.redis'].ping()
    options = {'async_mode': app.config['SOCKETIO_ASYNC_MODE'],
               'ping_interval': app.config['SOCKETIO_PING_INTERVAL'],
               'max_http_buffer_size': app.config['SOCKETIO_MAX_HTTP_BUFFER_SIZE'],
               'cors_allowed_origins': app.config['SOCKETIO_CORS_ALLOWED_ORIGINS']}
    if queue:
        socketio.init_app(app, message_queue=queue, **options)
    else:
        # init_app() keeps what earlier calls were given (Flask-SocketIO #680),
        # so say outright that there is no queue, not even an earlier app's.
        socketio.init_app(app, message_queue=None, client_manager=None, **options)
    socketio.start_background_task(close_transports_without_a_namespace, socketio.server,
                                   app.config['SOCKETIO_CONNECT_TIMEOUT'])
    if app.config['PROXY_FIX_X_FOR']:
        # After init_app(), which wraps app.wsgi_app in Socket.IO's middleware:
        # wrapped before it, ProxyFix never sees Socket.IO's requests. Its
        # x_proto is 1 unless told otherwise: nginx's X-Forwarded-Proto says https.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config['PROXY_FIX_X_FOR'])
    return app

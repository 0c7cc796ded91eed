"""A small project shaped like many real ones: an app factory, Socket.IO
handlers with rooms, and settings read from the environment, which
production/myproject.env sets in production."""
import functools
import os

from flask import Blueprint, Flask, abort, current_app, render_template_string, request
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
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
# Each user's open connections, by sid, for a logout to close them all. With a
# message queue, several processes serve the app: the record is then a set in
# Redis, which every process sees. Without one, it is this dict.
connections = {}

LOGIN_PAGE = '''<form method="post">
  <input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
  <input name="username"> <input name="password" type="password"> <button>Log in</button>
</form>'''


class User(UserMixin):
    def __init__(self, username):
        self.id = username


@login_manager.user_loader
def user_loader(id):
    return User(id) if isinstance(id, str) and id in allowed_users else None


@auth.get('/login')
def login_page():
    return render_template_string(LOGIN_PAGE)


@auth.post('/login')
def login():
    username = request.form['username']
    password = request.form['password']
    if username not in allowed_users or allowed_users[username] != password:
        abort(401)
    login_user(User(username))
    return ''


@auth.post('/logout')
def logout():
    logout_user()
    return ''


@socketio.on('connect')
def on_connect():
    if current_user.is_anonymous:
        return False
    current_app.logger.info('%s connected from %s', current_user.id, request.remote_addr)
    remember_connection(current_user.id, request.sid)
    # A room per user, named by their id, for what is meant for them. Rooms
    # end with the connection, so join it here: a client that reconnects,
    # perhaps to another process, is back in it.
    join_room(current_user.id)
    emit('welcome', {'username': current_user.id})


@socketio.on('disconnect')
def on_disconnect(reason):
    if current_user.is_authenticated:
        forget_connection(current_user.id, request.sid)


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
        case [str(room), str(text)] if room in rooms():  # a room it has joined
            emit('said', {'from': current_user.id, 'text': text}, to=room, include_self=False)
            return True
    return False


@user_logged_out.connect
def close_their_connections(app, user):
    # get_id(), not .id: a logout with nobody logged in sends an anonymous user
    if user.get_id() is not None:
        for sid in take_connections(user.get_id()):
            # with a message queue, the process that holds the connection closes it
            disconnect(sid=sid, namespace='/')


def remember_connection(user_id, sid):
    if redis := current_app.extensions.get('myproject.redis'):
        redis.sadd(f'myproject:connections:{user_id}', sid)
    else:
        connections.setdefault(user_id, set()).add(sid)


def forget_connection(user_id, sid):
    if redis := current_app.extensions.get('myproject.redis'):
        redis.srem(f'myproject:connections:{user_id}', sid)
    else:
        connections.get(user_id, set()).discard(sid)


def take_connections(user_id):
    """The sids of user_id's open connections, which the record then forgets."""
    if redis := current_app.extensions.get('myproject.redis'):
        key = f'myproject:connections:{user_id}'
        sids, _ = redis.pipeline().smembers(key).delete(key).execute()
        return sids
    return connections.pop(user_id, set())


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
        # The pages allowed to open a Socket.IO connection with the user's
        # cookie. None: only the origin the request was made to. Never '*' or
        # []: both switch the Origin check off.
        SOCKETIO_CORS_ALLOWED_ORIGINS=None,
        # How many proxies in front set X-Forwarded-For: 1 behind nginx. Never
        # without a proxy, where any client could name its own address.
        PROXY_FIX_X_FOR=int(os.environ.get('PROXY_FIX_X_FOR', '0')),
    )
    if test_config is not None:
        app.config.update(test_config)
    if app.config['SECRET_KEY'] in (None, '', 'replace-me'):
        # unset, or production/myproject.env's placeholder: with a key that
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
               'cors_allowed_origins': app.config['SOCKETIO_CORS_ALLOWED_ORIGINS']}
    if queue:
        socketio.init_app(app, message_queue=queue, **options)
    else:
        # init_app() keeps what earlier calls were given (Flask-SocketIO #680),
        # so say outright that there is no queue, not even an earlier app's.
        socketio.init_app(app, message_queue=None, client_manager=None, **options)
    if app.config['PROXY_FIX_X_FOR']:
        # After init_app(), which wraps app.wsgi_app in Socket.IO's middleware:
        # wrapped before it, ProxyFix never sees Socket.IO's requests.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config['PROXY_FIX_X_FOR'])
    return app

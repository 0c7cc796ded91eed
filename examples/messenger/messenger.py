"""A messenger shaped like many real apps: an app factory that always hands
Flask-SocketIO its Redis as the message queue, three class-based namespaces,
Redis for presence, groups and a rate limit, and an outside announcements
feed that a thread polls, with a timeout. `python messenger.py` serves it on
port 5000 and starts that thread."""
import functools
import os
import threading

import redis
import requests
from flask import Blueprint, Flask, abort, current_app, request
from flask_login import LoginManager, UserMixin, current_user, login_user
from flask_socketio import Namespace, SocketIO, emit, join_room

socketio = SocketIO()
login_manager = LoginManager()
auth = Blueprint('auth', __name__)

allowed_users = {'python': 'is-great!', 'foo': 'bar', 'ham': 'spam'}  # stands in for a database


class User(UserMixin):
    def __init__(self, username):
        self.id = username


@login_manager.user_loader
def load_user(id):
    return User(id) if isinstance(id, str) and id in allowed_users else None


@auth.post('/login')
def login():
    credentials = request.get_json()  # 415 unless JSON, 400 if it does not parse
    if not isinstance(credentials, dict):
        abort(400)
    username, password = credentials.get('username'), credentials.get('password')
    if not isinstance(username, str) or not isinstance(password, str):
        abort(400)
    if allowed_users.get(username) != password:
        abort(401)
    login_user(User(username))
    return {'username': username}


def store():
    """The app's own Redis, the one its message queue uses too."""
    return current_app.extensions['messenger.redis']


def user_room(user_id):
    # joined on /chat, and only there: emit to it with namespace='/chat'
    return f'user_{user_id}'


def group_room(group):
    return f'group_{group}'


def sids_key(namespace, user_id):
    """The Redis set of user_id's open connections on namespace, from every process."""
    return f'messenger:sids:{namespace}:{user_id}'


def over_the_limit():
    """Count one more message of the current user: True once they have sent
    more than RATE_LIMIT in RATE_WINDOW seconds, on any connection of any process."""
    key = f'messenger:sent:{current_user.id}'
    window = current_app.config['RATE_WINDOW']
    count, _ = store().pipeline().incr(key).expire(key, window, nx=True).execute()
    return count > current_app.config['RATE_LIMIT']


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


class Chat(Namespace):
    """Messages from user to user. Each connection joins its user's room here,
    where the app tells a user what concerns them."""
    @from_the_server_only
    def on_connect(self):
        if current_user.is_anonymous:
            return False
        join_room(user_room(current_user.id))

    def on_whoami(self):
        return current_user.id

    def on_send(self, *message):
        match message:
            case [str(to), str(text)] if to in allowed_users:
                if over_the_limit():
                    return 'too many messages'
                emit('direct', {'from': current_user.id, 'text': text}, to=user_room(to))
                return True
        return False


class Presence(Namespace):
    """Who is online: a user is, from the first of their connections here
    until the last one closes."""
    @from_the_server_only
    def on_connect(self):
        if current_user.is_anonymous:
            return False
        key = sids_key('/presence', current_user.id)
        _, count = store().pipeline().sadd(key, request.sid).scard(key).execute()
        if count == 1:  # their first: tell everyone else
            emit('online', current_user.id, broadcast=True, include_self=False)

    @from_the_server_only
    def on_disconnect(self, reason):
        key = sids_key('/presence', current_user.id)
        _, count = store().pipeline().srem(key, request.sid).scard(key).execute()
        if count == 0:  # their last
            emit('offline', current_user.id, broadcast=True, include_self=False)

    def on_who(self):
        return sorted(user for user in allowed_users if store().scard(sids_key('/presence', user)))


class Groups(Namespace):
    """Groups that an owner creates, adds members to and removes them from.
    Each connection of a member here is in the group's room."""
    @from_the_server_only
    def on_connect(self):
        if current_user.is_anonymous:
            return False
        store().sadd(sids_key('/groups', current_user.id), request.sid)
        for group in store().smembers(f'messenger:groups:{current_user.id}'):
            join_room(group_room(group))

    @from_the_server_only
    def on_disconnect(self, reason):
        store().srem(sids_key('/groups', current_user.id), request.sid)

    def on_create(self, *message):
        match message:
            case [str(group)]:
                # whoever names a group first owns it
                if store().set(f'messenger:owner:{group}', current_user.id, nx=True):
                    enrol(group, current_user.id)
                    return True
        return False

    def on_add(self, *message):
        match message:
            case [str(group), str(member)] if owns(group) and member in allowed_users:
                enrol(group, member)
                # the member's own room is on /chat: here, on /groups, no one is in it
                emit('added', {'group': group, 'by': current_user.id},
                     to=user_room(member), namespace='/chat')
                return True
        return False

    def on_remove(self, *message):
        match message:
            case [str(group), str(member)] if owns(group) and member != current_user.id:
                expel(group, member)
                emit('removed', {'group': group, 'by': current_user.id},
                     to=user_room(member), namespace='/chat')
                return True
        return False

    def on_say(self, *message):
        match message:
            case [str(group), str(text)] if store().sismember(f'messenger:members:{group}',
                                                              current_user.id):
                if over_the_limit():
                    return 'too many messages'
                emit('said', {'group': group, 'from': current_user.id, 'text': text},
                     to=group_room(group), include_self=False)
                return True
        return False


def owns(group):
    return store().get(f'messenger:owner:{group}') == current_user.id


def enrol(group, member):
    """Make member a member of group, with each of their connections on
    /groups in its room."""
    store().pipeline().sadd(f'messenger:members:{group}', member).sadd(
        f'messenger:groups:{member}', group).execute()
    for sid in store().smembers(sids_key('/groups', member)):
        # with a message queue, the process that holds sid is told to
        socketio.server.enter_room(sid, group_room(group), namespace='/groups')


def expel(group, member):
    """Take member out of group, and each of their connections out of its
    room, on every process."""
    store().pipeline().srem(f'messenger:members:{group}', member).srem(
        f'messenger:groups:{member}', group).execute()
    for sid in store().smembers(sids_key('/groups', member)):
        socketio.server.leave_room(sid, group_room(group), namespace='/groups')


socketio.on_namespace(Chat('/chat'))
socketio.on_namespace(Presence('/presence'))
socketio.on_namespace(Groups('/groups'))


def relay_feed(app, stop):
    """Poll the outside feed; emit each new announcement to everyone on /chat.
    Return once stop, a threading.Event, is set."""
    latest = None
    while True:
        try:
            response = requests.get(app.config['FEED_URL'], timeout=app.config['FEED_TIMEOUT'])
            response.raise_for_status()
            item = response.json()
        except (requests.RequestException, ValueError):
            item = None  # down, slow, failing or not JSON: try again at the next poll
        if isinstance(item, dict) and isinstance(item.get('text'), str) and item != latest:
            socketio.emit('announcement', {'text': item['text']}, namespace='/chat')
            latest = item
        if stop.wait(app.config['FEED_INTERVAL']):
            return


def create_app():
    app = Flask(__name__)
    app.config.from_mapping(
        SECRET_KEY=os.environ.get('SECRET_KEY'),
        SESSION_COOKIE_SAMESITE='Lax',
        # the session cookie goes over https only, unless told otherwise
        SESSION_COOKIE_SECURE=os.environ.get('SESSION_COOKIE_SECURE') != 'false',
        # the app's own data, and the message queue that its processes share
        REDIS_URL=os.environ.get('REDIS_URL', 'redis://localhost:6379/0'),
        RATE_LIMIT=int(os.environ.get('RATE_LIMIT', '10')),  # messages a user may send...
        RATE_WINDOW=int(os.environ.get('RATE_WINDOW', '10')),  # ...in this many seconds
        FEED_URL=os.environ.get('FEED_URL'),  # the outside announcements feed; unset, none
        FEED_INTERVAL=float(os.environ.get('FEED_INTERVAL', '30')),  # seconds between polls
        FEED_TIMEOUT=float(os.environ.get('FEED_TIMEOUT', '5')),  # seconds it may take to answer
    )
    if not app.config['SECRET_KEY']:
        raise RuntimeError('SECRET_KEY is not set: set it in the environment to a long random secret')
    app.extensions['messenger.redis'] = redis.Redis.from_url(app.config['REDIS_URL'],
                                                             decode_responses=True)
    app.register_blueprint(auth)
    login_manager.init_app(app)
    socketio.init_app(app, message_queue=app.config['REDIS_URL'])
    return app


if __name__ == '__main__':
    app = create_app()
    if app.config['FEED_URL']:
        socketio.start_background_task(relay_feed, app, threading.Event())
    socketio.run(app, port=5000)

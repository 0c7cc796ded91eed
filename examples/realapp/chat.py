"""A chat shaped like many real apps: one module-level app, configured from
the environment when it is imported, its users in a database, a JSON login
behind CSRF protection, and a task of its own that relays an outside news
service. `python chat.py` serves it on port 5000, as such apps often do."""
import functools
import os
import re
import secrets
import threading

import requests
from flask import Flask, abort, render_template_string, request, session
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_required,
    login_user,
    logout_user,
)
from flask_socketio import SocketIO, emit, join_room
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

app = Flask(__name__)
app.config.from_mapping(
    SECRET_KEY=os.environ.get('SECRET_KEY'),
    SQLALCHEMY_DATABASE_URI=os.environ.get('DATABASE_URL', 'sqlite:///chat.db'),
    # The session cookie goes over https only, unless told otherwise.
    SESSION_COOKIE_SECURE=os.environ.get('SESSION_COOKIE_SECURE') != 'false',
    NEWS_URL=os.environ.get('NEWS_URL'),  # the outside service; unset, no news
    NEWS_INTERVAL=float(os.environ.get('NEWS_INTERVAL', '60')),  # seconds between its polls
)
if not app.config['SECRET_KEY']:
    raise RuntimeError('SECRET_KEY is not set: set it in the environment to a long random secret')

db = SQLAlchemy(app)
csrf = CSRFProtect(app)
login_manager = LoginManager(app)
socketio = SocketIO(app)
# What an unknown user's password is checked against, so that a login takes
# as long whether or not the user exists.
NOBODYS_HASH = generate_password_hash(secrets.token_hex())
news_relay = None  # the task that relays the news, once the first user connects
news_stop = threading.Event()  # set, the task ends
news_lock = threading.Lock()


class User(UserMixin, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(unique=True)
    password_hash: Mapped[str]


class Login(db.Model):
    """A login that has not logged out. The session cookie is signed, not
    stored: its login id, checked here, is what a logout can take back."""
    id: Mapped[str] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(db.ForeignKey(User.id))


@login_manager.user_loader
def load_user(id):
    # The id comes from the session. Anything but 1 to 18 ASCII digits is
    # nobody, not a 500: int() takes other scripts' digits too, and SQLite's
    # integers stop at 19 digits.
    if not isinstance(id, str) or not re.fullmatch('[0-9]{1,18}', id):
        return None
    # and only in a login of theirs that has not logged out
    login_id = session.get('login_id')
    if not isinstance(login_id, str):
        return None
    return db.session.execute(db.select(User).join(Login).where(
        User.id == int(id), Login.id == login_id)).scalar()


@app.get('/')
def page():
    # The page hands its script the CSRF token that the login must send back.
    return render_template_string('<meta name="csrf-token" content="{{ csrf_token() }}">')


@app.post('/login')
def login():
    credentials = request.get_json()  # 415 unless JSON, 400 if it does not parse
    if not isinstance(credentials, dict):
        abort(400)
    username, password = credentials.get('username'), credentials.get('password')
    if not isinstance(username, str) or not isinstance(password, str):
        abort(400)
    user = db.session.execute(db.select(User).filter_by(username=username)).scalar()
    password_hash = user.password_hash if user else NOBODYS_HASH
    if not check_password_hash(password_hash, password) or user is None:
        abort(401)
    session['login_id'] = secrets.token_urlsafe()
    db.session.add(Login(id=session['login_id'], user_id=user.id))
    db.session.commit()
    login_user(user)
    return {'username': user.username}


@app.post('/logout')
def logout():
    login_id = session.pop('login_id', None)
    if isinstance(login_id, str):
        # this login ends, for every copy of its cookie; the user's others stay
        db.session.execute(db.delete(Login).where(Login.id == login_id))
        db.session.commit()
    logout_user()
    return '', 204


@app.post('/messages')
@login_required
def post_message():
    message = request.get_json()
    if not isinstance(message, dict) or not all(
            isinstance(message.get(key), str) for key in ('to', 'text')):
        abort(400)
    # The recipient's room: every connection they have open (with a message
    # queue, in every process).
    socketio.emit('message', {'from': current_user.username, 'text': message['text']},
                  to=message['to'])
    return '', 204


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
    global news_relay
    if current_user.is_anonymous:
        return False
    join_room(current_user.username)  # a room per user, for what is meant for them
    emit('welcome', {'username': current_user.username})
    with news_lock:
        if app.config['NEWS_URL'] and news_relay is None:
            news_relay = socketio.start_background_task(relay_news)


@socketio.on('whoami')
def whoami():
    # None once the login has ended, by a logout on another tab, say
    return current_user.username if current_user.is_authenticated else None


def relay_news():
    """Poll the news service; emit each new item to every connected user."""
    latest = None
    while True:
        try:
            response = requests.get(app.config['NEWS_URL'], timeout=5)
            response.raise_for_status()
            news = response.json()
        except (requests.RequestException, ValueError):
            news = latest  # down, failing, or not JSON: try again at the next poll
        if news != latest:
            socketio.emit('news', news)
            latest = news
        if news_stop.wait(app.config['NEWS_INTERVAL']):
            return


if __name__ == '__main__':
    with app.app_context():
        db.create_all()
    socketio.run(app)

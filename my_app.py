import os

from flask import Flask, request, abort
from flask_login import LoginManager, login_user, current_user, UserMixin
from flask_socketio import SocketIO, emit
from flask_login import logout_user  # for /logout, which the article does not have

allowed_users = {
    'foo': 'bar',
    'python': 'is-great!',
}

app = Flask(__name__)
# The article's key is public: a real deployment sets its own in SECRET_KEY.
app.config['SECRET_KEY'] = os.environ.get('SECRET_KEY', 'top secret!')
app.config['SESSION_COOKIE_SAMESITE'] = 'Lax'  # not in the article: kept off other sites' posts

login = LoginManager(app)
socketio = SocketIO(app)

@login.user_loader
def user_loader(id):
    # None for anything but a known user name, as Flask-Login expects: no user for a forged cookie.
    return User(id) if isinstance(id, str) and id in allowed_users else None

class User(UserMixin):
    def __init__(self, username):
        self.id = username

@app.route('/login', methods=['POST'])
def login():
    username = request.form['username']
    password = request.form['password']
    if username not in allowed_users or allowed_users[username] != password:
        abort(401)
    login_user(User(username))
    return ''

# Not in the article: ends the session that /login started (see WALKTHROUGH.md).
@app.route('/logout', methods=['POST'])
def logout():
    logout_user()
    return ''

@socketio.on('connect')
def on_connect():
    if current_user.is_anonymous:
        return False
    emit('welcome', {'username': current_user.id})

if __name__ == '__main__':
    # PORT lets a second copy (the tests' own) listen elsewhere than 5000;
    # allow_unsafe_werkzeug lets it start with no terminal (CI, nohup, IDEs).
    socketio.run(app, port=int(os.environ.get('PORT', '5000')),
                 allow_unsafe_werkzeug=True)

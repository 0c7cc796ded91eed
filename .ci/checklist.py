"""Put each bug of WALKTHROUGH.md's checklist into its app, and fail unless the
row's test catches it.

Each test that the checklist names is run as the app stands, where it must
pass, then in a fresh copy of the project with its guard removed, and again
with its guard weakened, where it must fail. A bug is an exact text
replacement in the copy, below, so the apps themselves carry no bug switches.
Run by .ci/noxfile.py's `checklist` session, in an environment with the
packages of every folder of examples/.
"""
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEGIN = '<!-- checklist: .ci/checklist.py puts each bug in and runs the test -->'
END = '<!-- end of checklist -->'

# test name: {'removed': [(file, old, new), ...], 'weakened': [...]}
BUGS = {
    'test_connect_before_login_is_refused': {
        'removed': [('examples/myproject.py', '''    if current_user.is_anonymous:
        return False
    current_app.logger.info''', '''    current_app.logger.info''')],
        # the proxy is never None, so this refuses no one
        'weakened': [('examples/myproject.py', '''    if current_user.is_anonymous:
        return False
    current_app.logger.info''', '''    if current_user is None:
        return False
    current_app.logger.info''')],
    },
    'test_bad_logins_get_a_clear_answer_and_log_nobody_in': {
        'removed': [('examples/realapp/chat.py', '''    if not isinstance(credentials, dict):
        abort(400)
''', '')],
        'weakened': [('examples/realapp/chat.py',
                      'if not isinstance(username, str) or not isinstance(password, str):',
                      'if username is None or password is None:')],
    },
    'test_login_without_the_csrf_token_of_the_page_is_refused': {
        'removed': [('examples/myproject.py', '    csrf.init_app(app)\n', '')],
        # "no one is logged in yet, so the login needs no token"
        'weakened': [('examples/myproject.py', "@auth.post('/login')\ndef login():",
                      "@auth.post('/login')\n@csrf.exempt\ndef login():")],
    },
    'test_session_cookie_is_secure_httponly_and_samesite_lax': {
        'removed': [('examples/myproject.py', "        SESSION_COOKIE_SAMESITE='Lax',", '')],
        # Secure only when asked for, so not in a deployment that forgets to
        'weakened': [('examples/myproject.py',
                      "os.environ.get('SESSION_COOKIE_SECURE') != 'false'",
                      "os.environ.get('SESSION_COOKIE_SECURE') == 'true'")],
    },
    'test_create_app_refuses_to_start_without_a_key_of_its_own': {
        'removed': [('examples/myproject.py', "SECRET_KEY=os.environ.get('SECRET_KEY'),",
                     "SECRET_KEY=os.environ.get('SECRET_KEY', 'dev'),")],
        'weakened': [('examples/myproject.py', "in (None, '', 'replace-me'):", 'is None:')],
    },
    'test_forged_session_cookies_are_refused': {
        # the session's id taken as the user's, on no record
        'removed': [('examples/myproject.py', '''    username = user_of_login(login_id) if isinstance(login_id, str) else None
    return User(username, login_id) if username in allowed_users else None''',
                     '    return User(login_id, login_id)')],
        # a login id of any type looked up: a list raises, a 500
        'weakened': [('examples/myproject.py',
                      'username = user_of_login(login_id) if isinstance(login_id, str) else None',
                      'username = user_of_login(login_id)')],
    },
    'test_forged_and_tampered_session_cookies_are_refused': {
        # the article's own loader
        'removed': [('my_app.py',
                     'return User(id) if isinstance(id, str) and id in allowed_users else None',
                     'return User(id)')],
        'weakened': [('my_app.py',
                      'return User(id) if isinstance(id, str) and id in allowed_users else None',
                      'return User(id) if id in allowed_users else None')],
    },
    'test_session_whose_user_id_is_not_a_number_is_refused': {
        'removed': [('examples/realapp/chat.py', '''    if not isinstance(id, str) or not re.fullmatch('[0-9]{1,18}', id):
        return None
''', '')],
        # isdecimal() takes other scripts' digits, and any number of them
        'weakened': [('examples/realapp/chat.py',
                      "not re.fullmatch('[0-9]{1,18}', id)", 'not id.isdecimal()')],
    },
    'test_events_of_a_user_no_longer_known_disconnect_them': {
        'removed': [('examples/myproject.py', "@socketio.on('say')\n@authenticated_only\n",
                     "@socketio.on('say')\n")],
        # an anonymous user is an object too, and so true: this lets everyone through
        'weakened': [('examples/myproject.py', '        if not current_user.is_authenticated:',
                      '        if not current_user:')],
    },
    'test_events_of_the_wrong_shape_get_false_and_change_nothing': {
        'removed': [('examples/myproject.py', 'case [str(room), str(text)]', 'case [room, text]'),
                    ('examples/myproject.py', 'case [str(room)]', 'case [room]')],
        'weakened': [('examples/myproject.py', 'case [str(room), str(text)]',
                      'case [str(room), text]')],
    },
    'test_a_user_cannot_join_another_users_room': {
        'removed': [('examples/myproject.py', 'case [str(room)] if room in public_rooms:',
                     'case [str(room)]:')],
        'weakened': [('examples/myproject.py', 'case [str(room)] if room in public_rooms:',
                      'case [str(room)] if room:')],
    },
    'test_a_user_cannot_say_anything_in_a_room_it_has_not_joined': {
        'removed': [('examples/myproject.py', 'if room in rooms() and len(text)', 'if len(text)')],
        # a room that exists, but not one this client is in
        'weakened': [('examples/myproject.py', 'if room in rooms() and len(text)',
                      'if room in public_rooms and len(text)')],
    },
    'test_a_message_reaches_the_other_members_of_the_room_only': {
        'removed': [('examples/myproject.py', 'to=room, include_self=False)',
                     'include_self=False)')],
        'weakened': [('examples/myproject.py', 'to=room, include_self=False)', 'to=room)')],
    },
    'test_welcome_reaches_the_new_connection_only': {
        'removed': [('my_app.py', "    emit('welcome', {'username': current_user.id})",
                     "    emit('welcome', {'username': current_user.id}, broadcast=True)")],
        # the SocketIO object's emit(), which names no recipient: everyone
        'weakened': [('my_app.py', "    emit('welcome', {'username': current_user.id})",
                      "    socketio.emit('welcome', {'username': current_user.id})")],
    },
    'test_logout_closes_that_logins_connections_only': {
        'removed': [('examples/myproject.py', "            disconnect(sid=sid, namespace='/')",
                     '            pass')],
        # the connection of the moment only
        'weakened': [('examples/myproject.py', 'for sid in end_login(user.get_id()):',
                      'for sid in list(end_login(user.get_id()))[:1]:')],
    },
    'test_events_named_connect_and_disconnect_change_nothing': {
        'removed': [('examples/myproject.py', '''        if socketio.server.manager.is_connected(request.sid, request.namespace):
            return False  # an event the client sent: nothing happens
''', '')],
        # the connect handler guarded, the disconnect handler not
        'weakened': [('examples/myproject.py', "@socketio.on('disconnect')\n@from_the_server_only\n",
                      "@socketio.on('disconnect')\n")],
    },
    'test_events_named_connect_and_disconnect_leave_presence_alone': {
        'removed': [('examples/messenger/messenger.py', '''        if socketio.server.manager.is_connected(request.sid, request.namespace):
            return False  # an event the client sent: nothing happens
''', '')],
        # on_connect guarded, on_disconnect not
        'weakened': [('examples/messenger/messenger.py',
                      "    @from_the_server_only\n    def on_disconnect(self, reason):\n        key = sids_key('/presence'",
                      "    def on_disconnect(self, reason):\n        key = sids_key('/presence'")],
    },
    'test_a_cookie_copied_before_logout_gets_nothing': {
        # the user's name in the session, as Flask-Login keeps it by default
        'removed': [('examples/myproject.py', '        return self.login_id\n',
                     '        return self.id\n'),
                    ('examples/myproject.py', '''    username = user_of_login(login_id) if isinstance(login_id, str) else None
    return User(username, login_id) if username in allowed_users else None''',
                     '    return User(login_id, None) if login_id in allowed_users else None')],
        # the logout closes the login's sockets, but leaves it on the record
        'weakened': [('examples/myproject.py', '    logins.pop(login_id, None)\n', '')],
    },
    'test_the_server_closes_a_transport_without_a_namespace': {
        'removed': [('examples/myproject.py', '''    socketio.start_background_task(close_transports_without_a_namespace, socketio.server,
                                   app.config['SOCKETIO_CONNECT_TIMEOUT'])
''', '')],
        # a transport closed a second after its connect is refused: not one
        # that never asks for a namespace
        'weakened': [('examples/myproject.py', '''    socketio.start_background_task(close_transports_without_a_namespace, socketio.server,
                                   app.config['SOCKETIO_CONNECT_TIMEOUT'])
''', ''), ('examples/myproject.py', '''    if current_user.is_anonymous:
        return False
    current_app.logger.info''', '''    if current_user.is_anonymous:
        transport = socketio.server.eio.sockets[
            socketio.server.manager.eio_sid_from_sid(request.sid, request.namespace)]
        socketio.start_background_task(lambda: socketio.sleep(1) or transport.close(wait=False))
        return False
    current_app.logger.info''')],
    },
    'test_a_page_of_another_origin_is_refused': {
        'removed': [('examples/myproject.py', 'SOCKETIO_CORS_ALLOWED_ORIGINS=None,',
                     "SOCKETIO_CORS_ALLOWED_ORIGINS='*',")],
        'weakened': [('examples/myproject.py', 'SOCKETIO_CORS_ALLOWED_ORIGINS=None,',
                      'SOCKETIO_CORS_ALLOWED_ORIGINS=[],')],
    },
    'test_the_log_names_the_address_a_proxy_forwards': {
        'removed': [('examples/myproject.py',
                     "        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config['PROXY_FIX_X_FOR'])",
                     '        pass')],
        # ProxyFix before init_app(): never sees Socket.IO's requests
        'weakened': [('examples/myproject.py',
                      "        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config['PROXY_FIX_X_FOR'])",
                      '        pass'),
                     ('examples/myproject.py', "    queue = app.config['SOCKETIO_MESSAGE_QUEUE']\n",
                      ("    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config['PROXY_FIX_X_FOR'])\n"
                       "    queue = app.config['SOCKETIO_MESSAGE_QUEUE']\n"))],
    },
    'test_a_login_takes_as_long_whether_or_not_the_user_exists': {
        'removed': [('examples/realapp/chat.py',
                     'if not check_password_hash(password_hash, password) or user is None:',
                     'if user is None or not check_password_hash(password_hash, password):')],
        # a check for unknown users, but a cheap one
        'weakened': [('examples/realapp/chat.py',
                      'NOBODYS_HASH = generate_password_hash(secrets.token_hex())',
                      "NOBODYS_HASH = generate_password_hash(secrets.token_hex(), 'pbkdf2:sha256:1')")],
    },
    'test_every_namespace_refuses_a_connect_without_login': {
        # gone from one namespace of three
        'removed': [('examples/messenger/messenger.py', '''        if current_user.is_anonymous:
            return False
        key = sids_key('/presence', current_user.id)''', '''        key = sids_key('/presence', current_user.id)''')],
        # a bare return is None, not False: the connection is accepted
        'weakened': [('examples/messenger/messenger.py', '''        if current_user.is_anonymous:
            return False
        key = sids_key('/presence', current_user.id)''', '''        if current_user.is_anonymous:
            return
        key = sids_key('/presence', current_user.id)''')],
    },
    'test_a_member_added_to_a_group_is_told_on_chat': {
        # a bare emit() goes to the handler's own namespace, /groups
        'removed': [('examples/messenger/messenger.py', '''        emit('added', {'group': group, 'by': current_user.id},
                     to=user_room(member), namespace='/chat')''', '''        emit('added', {'group': group, 'by': current_user.id},
                     to=user_room(member))''')],
        'weakened': [('examples/messenger/messenger.py', '''        emit('added', {'group': group, 'by': current_user.id},
                     to=user_room(member), namespace='/chat')''', '''        emit('added', {'group': group, 'by': current_user.id},
                     to=user_room(member), namespace='chat')''')],
    },
    'test_a_removed_member_hears_nothing_more_from_the_group': {
        # out of the group in Redis, but still in its room
        'removed': [('examples/messenger/messenger.py',
                     "        socketio.server.leave_room(sid, group_room(group), namespace='/groups')",
                     '        pass')],
        # one of the member's connections only
        'weakened': [('examples/messenger/messenger.py',
                      "    for sid in store().smembers(sids_key('/groups', member)):\n        socketio.server.leave_room",
                      "    for sid in list(store().smembers(sids_key('/groups', member)))[:1]:\n        socketio.server.leave_room")],
    },
    'test_a_removed_member_hears_nothing_more_on_either_server': {
        'removed': [('examples/messenger/messenger.py',
                     "        socketio.server.leave_room(sid, group_room(group), namespace='/groups')",
                     '        pass')],
        # the connections this process holds only, as a room's own list has them
        'weakened': [('examples/messenger/messenger.py',
                      "        socketio.server.leave_room(sid, group_room(group), namespace='/groups')",
                      ("        if socketio.server.manager.is_connected(sid, '/groups'):\n"
                       "            socketio.server.leave_room(sid, group_room(group), namespace='/groups')"))],
    },
    'test_a_feed_that_never_answers_is_given_up_on': {
        'removed': [('examples/messenger/messenger.py',
                     "requests.get(app.config['FEED_URL'], timeout=app.config['FEED_TIMEOUT'])",
                     "requests.get(app.config['FEED_URL'])")],
        # a timeout to connect only: the stand-in accepts, then never answers
        'weakened': [('examples/messenger/messenger.py',
                      "requests.get(app.config['FEED_URL'], timeout=app.config['FEED_TIMEOUT'])",
                      "requests.get(app.config['FEED_URL'], timeout=(app.config['FEED_TIMEOUT'], None))")],
    },
}


def checklist_tests():
    """(test name, test file) for each test that the checklist links to."""
    text = (ROOT / 'WALKTHROUGH.md').read_text(encoding='utf-8')
    if text.count(BEGIN) != 1 or text.count(END) != 1:
        raise SystemExit(f'WALKTHROUGH.md needs one {BEGIN} and one {END}')
    table = text.split(BEGIN)[1].split(END)[0]
    return re.findall(r'\[`(test_\w+)`\]\(([\w/.]+\.py)\)', table)


def copy_of_project():
    folder = Path(tempfile.mkdtemp(prefix='checklist-'))
    shutil.copytree(ROOT, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns(
        '.git', '.venv*', '.nox', 'node_modules', '__pycache__', '.pytest_cache'))
    return folder


def pytest(folder, test_file, *names):
    """Run the named tests of test_file in the copy at folder, from the file's
    own folder, as each suite runs (README.md); return pytest's exit code and
    the end of what it printed. A run past 300 s gets SIGTERM, which the
    conftest files turn into Ctrl+C, so that it stops its servers too."""
    path = folder / test_file
    with subprocess.Popen([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
                           *(f'{path.name}::{name}' for name in names)],
                          cwd=path.parent, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True) as run:
        try:
            output, _ = run.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            run.terminate()
            try:
                output, _ = run.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                run.kill()
                output, _ = run.communicate()
    return run.returncode, output[-2000:]


def caught(name, test_file, kind):
    """Does the test fail with its guard removed, or weakened? Only a failed
    test counts (pytest's exit code 1): not a test that is not there, nor a
    bug that breaks the import."""
    folder = copy_of_project()
    try:
        for file, old, new in BUGS[name][kind]:
            path = folder / file
            text = path.read_text()
            if text.count(old) != 1:
                return f'{name}, {kind}: {old!r} is not once in {file}'
            path.write_text(text.replace(old, new))
        code, output = pytest(folder, test_file, name)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f'{name}, guard {kind}: {"fails" if code == 1 else f"exit {code}: NOT CAUGHT"}',
          flush=True)
    return None if code == 1 else f'{name} is not caught with its guard {kind}:\n{output}'


def main():
    tests = checklist_tests()
    failures = []
    if len(tests) < 8:
        failures.append(f'the checklist names {len(tests)} tests, not 8 or more')
    bugged = [test for test in tests if set(BUGS.get(test[0], {})) == {'removed', 'weakened'}]
    failures += [f'{name}: no removed and weakened bug for it here'
                 for name, file in tests if (name, file) not in bugged]
    # First each test on the apps as they stand, where it must pass: one run
    # per file, in one copy.
    folder = copy_of_project()
    try:
        for test_file in sorted({file for _, file in bugged}):
            names = [name for name, file in bugged if file == test_file]
            code, output = pytest(folder, test_file, *names)
            if code != 0:
                failures.append(f'{test_file} fails on the app as it stands:\n{output}')
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    # Then each bug, one per core at a time, each in a copy of its own.
    runs = [(name, file, kind) for name, file in bugged for kind in ('removed', 'weakened')]
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count()) as pool:
        failures += [found for found in pool.map(lambda run: caught(*run), runs) if found]
    for failure in failures:
        print('FAIL', failure)
    print(f'{len(tests)} checklist tests, {len(failures)} failure(s)')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())

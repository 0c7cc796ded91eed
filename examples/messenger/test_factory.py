"""create_app() always makes REDIS_URL its message queue: what the tests'
flask_app fixture (conftest.py) does about it, and why."""
from urllib.parse import urlsplit

import pytest
import socketio as python_socketio  # the client package; `socketio` is the app's
from flask_socketio import SocketIO

from live import redis_server
from messenger import create_app, socketio

REFUSED = 'Test client cannot be used with a message queue'


def test_the_factory_makes_its_redis_the_message_queue(monkeypatch, redis_url):
    monkeypatch.setenv('SECRET_KEY', 'a key for the tests')
    monkeypatch.setenv('REDIS_URL', redis_url)
    app = create_app()
    # python-socketio's RedisManager, on Flask-SocketIO's channel
    assert isinstance(socketio.server.manager, python_socketio.RedisManager)
    assert socketio.server.manager.redis_url == redis_url
    assert socketio.server.manager.channel == 'flask-socketio'
    # which the test client refuses
    with pytest.raises(RuntimeError, match=REFUSED):
        socketio.test_client(app)


def test_without_client_manager_none_an_earlier_queue_stays(monkeypatch, redis_url):
    monkeypatch.setenv('SECRET_KEY', 'a key for the tests')
    monkeypatch.setenv('REDIS_URL', redis_url)
    create_app()  # as a run's first app would be, unpatched
    init_app = SocketIO.init_app

    def init_app_with_no_queue_only(self, app, **options):
        init_app(self, app, **{**options, 'message_queue': None})

    monkeypatch.setattr(SocketIO, 'init_app', init_app_with_no_queue_only)
    app = create_app()
    # init_app() kept the manager the first app's queue made (Flask-SocketIO #680)
    assert isinstance(socketio.server.manager, python_socketio.RedisManager)
    with pytest.raises(RuntimeError, match=REFUSED):
        socketio.test_client(app)


def test_a_test_app_made_after_a_queued_one_has_no_queue(request, monkeypatch, redis_url,
                                                         login):
    monkeypatch.setenv('SECRET_KEY', 'a key for the tests')
    monkeypatch.setenv('REDIS_URL', redis_url)
    create_app()  # a queued app, unpatched
    # then the fixtures' app, made now, by the patched init_app()
    connect, flask_app = request.getfixturevalue('connect'), request.getfixturevalue('flask_app')
    assert type(socketio.server.manager) is python_socketio.Manager
    flask_client = flask_app.test_client()
    login(flask_client)
    assert connect(flask_client, '/chat').emit('whoami', namespace='/chat', callback=True) == 'python'


def test_a_redis_server_on_a_taken_port_is_not_taken_for_ours(tmp_path, redis_url,
                                                               redis_client):
    redis_client.set('kept', 'yes')
    # the run's own Redis holds this port: the new one exits, and says so
    with redis_server(tmp_path, urlsplit(redis_url).port) as url:
        assert url is None
    assert redis_client.get('kept') == 'yes'

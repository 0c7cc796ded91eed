import pytest
import requests
import socketio as python_socketio  # the client package; `socketio` is the app's

from live import live_client, nothing_arrives, wait_until

WELCOME = ['welcome', {'username': 'python'}]


def test_connect_without_login_is_refused(live_server):
    refused = pytest.raises(python_socketio.exceptions.ConnectionError,
                            match='One or more namespaces failed to connect: /')
    # the connect handler says no
    with live_client() as client, refused:
        client.connect(live_server, transports=['websocket'])


@pytest.mark.parametrize('transport', ['websocket', 'polling'])
def test_login_then_connect_is_welcomed(live_server, login, transport):
    session = requests.Session()
    assert login(session, url=live_server).status_code == 200
    with live_client(session) as client:
        client.connect(live_server, transports=[transport])
        # the cookie reached the connect handler, on either transport
        assert client.receive(timeout=5) == WELCOME


def test_a_page_of_another_origin_is_refused(live_server, login):
    session = requests.Session()
    login(session, url=live_server)
    # the Origin a browser sends for a page of another site: refused before
    # any handler runs, although the cookie is the user's
    refused = pytest.raises(python_socketio.exceptions.ConnectionError, match='^Connection error$')
    with live_client(session, origin='https://elsewhere.example') as client, refused:
        client.connect(live_server, transports=['websocket'])
    # the app's own origin, with the same cookie, gets in
    with live_client(session, origin=live_server) as client:
        client.connect(live_server, transports=['websocket'])
        assert client.receive(timeout=5) == WELCOME


def test_a_message_to_a_room_reaches_no_one_outside_it(live_server, login):
    python_session, foo_session = requests.Session(), requests.Session()
    login(python_session, url=live_server)
    login(foo_session, 'foo', 'bar', url=live_server)
    with live_client(python_session) as python, live_client(foo_session) as foo:
        for client in python, foo:
            client.connect(live_server, transports=['websocket'])
            client.receive(timeout=5)  # the welcome
        assert python.call('join', 'lobby', timeout=5) is True
        assert python.call('say', ('lobby', 'hello'), timeout=5) is True
        # foo is not in the lobby: nothing reaches them
        assert nothing_arrives(foo)


def test_logout_closes_the_users_open_socket(live_server, login, logout):
    session = requests.Session()
    login(session, url=live_server)
    with live_client(session) as client:
        client.connect(live_server, transports=['websocket'])
        assert client.receive(timeout=5) == WELCOME
        assert logout(session, url=live_server).status_code == 200
        # the server closed it: a receive() waiting now would not hear of it
        wait_until(lambda: not client.connected, 'the server to close the socket')


def test_the_log_names_the_address_a_proxy_forwards(live_server, server_log, login):
    session = requests.Session()
    login(session, url=live_server)
    with live_client(session) as client:
        # what nginx sends for a client at 203.0.113.9 (production/nginx.conf)
        client.connect(live_server, headers={'X-Forwarded-For': '203.0.113.9'},
                       transports=['websocket'])
        client.receive(timeout=5)
    # the connect handler saw the client's address, not the proxy's
    assert 'python connected from 203.0.113.9' in server_log.read_text()

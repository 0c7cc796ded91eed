import time

import pytest
import requests
import socketio as python_socketio  # the client package; `socketio` is the app's
import websocket

from live import (
    WebSocketClosingAtOnce,
    connect_again,
    live_client,
    next_packet,
    nothing_arrives,
    wait_until,
)

WELCOME = ['welcome', {'username': 'python'}]
WELCOME_PACKET = '42["welcome",{"username":"python"}]'
REFUSED_PACKET = '44{"message":"Connection rejected by server"}'


@pytest.fixture
def raw_websocket():
    """raw_websocket(url, session) opens a WebSocket to the server's Engine.IO,
    with the cookie of session, a requests.Session, if given: a client that
    writes Socket.IO packets by hand, as a script can. The server's open
    packet is read. Every one is closed at the end."""
    opened = []

    def raw_websocket(url, session=None):
        cookie = f'session={session.cookies["session"]}' if session else None
        ws = websocket.create_connection(
            url.replace('http', 'ws', 1) + '/socket.io/?EIO=4&transport=websocket',
            cookie=cookie, timeout=5, class_=WebSocketClosingAtOnce)
        opened.append(ws)
        ws.recv()  # Engine.IO's open packet
        return ws

    yield raw_websocket
    for ws in opened:
        ws.close()


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


def test_a_scripts_connect_and_disconnect_events_change_nothing(live_server, raw_websocket,
                                                                login, logout):
    session = requests.Session()
    login(session, url=live_server)
    ws = raw_websocket(live_server, session)
    ws.send('40')  # Socket.IO's connect to /
    assert [next_packet(ws), next_packet(ws)[:2]] == [WELCOME_PACKET, '40']
    # a client's events by the server's names, with acknowledgement ids 1 to 3
    for packet in ['421["disconnect","transport close"]', '422["disconnect"]', '423["connect"]']:
        ws.send(packet)
    # each gets a plain False, and nothing else comes: no second welcome
    assert sorted(next_packet(ws) for _ in range(3)) == ['431[false]', '432[false]', '433[false]']
    # the logout still closes the namespace: the connection stayed on its record
    assert logout(session, url=live_server).status_code == 200
    assert next_packet(ws) == '41'


def test_after_logout_the_transport_cannot_connect_again(live_server, raw_websocket, login,
                                                         logout):
    session = requests.Session()
    login(session, url=live_server)
    ws = raw_websocket(live_server, session)
    ws.send('40')
    assert [next_packet(ws), next_packet(ws)[:2]] == [WELCOME_PACKET, '40']
    assert logout(session, url=live_server).status_code == 200
    assert next_packet(ws) == '41'  # the server closed the namespace, not the transport
    # a connect on the same transport: Flask-SocketIO's saved copy of the
    # session still names python, but the login it names has ended
    assert connect_again(ws) == REFUSED_PACKET
    # and the server closes the transport, although the client answers its pings
    assert next_packet(ws) is None


@pytest.mark.parametrize('connect_packet', [
    pytest.param('40', id='connect refused'),
    pytest.param(None, id='connect never sent'),
])
def test_the_server_closes_a_transport_without_a_namespace(live_server, raw_websocket,
                                                           connect_packet):
    ws = raw_websocket(live_server)  # no cookie
    start = time.monotonic()
    if connect_packet:
        ws.send(connect_packet)
        assert next_packet(ws) == REFUSED_PACKET
    # the client answers every ping, yet the server closes the transport:
    # SOCKETIO_CONNECT_TIMEOUT is 1 s here
    assert next_packet(ws) is None
    print(f'closed after {time.monotonic() - start:.2f} s')


def test_an_oversized_packet_closes_its_connection(
        live_server, raw_websocket, login):
    python_session, foo_session = requests.Session(), requests.Session()
    login(python_session, url=live_server)
    login(foo_session, 'foo', 'bar', url=live_server)
    with live_client(foo_session) as foo:
        foo.connect(live_server, transports=['websocket'])
        foo.receive(timeout=5)  # the welcome
        assert foo.call('join', 'lobby', timeout=5) is True
        ws = raw_websocket(live_server, python_session)
        ws.send('40')
        assert [next_packet(ws), next_packet(ws)[:2]] == [WELCOME_PACKET, '40']
        ws.send('421["join","lobby"]')
        assert next_packet(ws) == '431[true]'
        # a packet over SOCKETIO_MAX_HTTP_BUFFER_SIZE, 16 kB: the server hangs up
        ws.send('42["say","lobby","' + 'x' * 16_000 + '"]')
        assert next_packet(ws) is None
        # and relays nothing
        assert nothing_arrives(foo)

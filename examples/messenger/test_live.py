"""The app as deployed: two gunicorn processes that share Redis, as their
message queue and their store, and python-socketio's clients over WebSocket."""
import contextlib

import pytest
import requests

from live import live_client, nothing_arrives, wait_for_event, wait_until
from messenger import allowed_users, sids_key


@pytest.fixture
def live_tab(login):
    """live_tab(username, url, namespace) connects a new SimpleClient of
    username to namespace at url: a tab of theirs. Each user has one
    requests.Session for the test, logged in at their first tab; its cookie is
    good on both servers. Every tab is closed at the end."""
    sessions = {}
    with contextlib.ExitStack() as stack:
        def live_tab(username, url, namespace):
            if username not in sessions:
                sessions[username] = requests.Session()
                response = login(sessions[username], username, allowed_users[username], url=url)
                assert response.status_code == 200
            client = stack.enter_context(live_client(sessions[username]))
            client.connect(url, namespace=namespace, transports=['websocket'])
            return client

        yield live_tab


def test_a_removed_member_hears_nothing_more_on_either_server(servers, live_tab):
    a, b = servers
    python = live_tab('python', a, '/groups')
    # foo has a tab on each server, and hears of the app on b
    foo_tabs = [live_tab('foo', a, '/groups'), live_tab('foo', b, '/groups')]
    foo_chat = live_tab('foo', b, '/chat')
    ham = live_tab('ham', b, '/groups')
    assert python.call('create', 'team', timeout=5) is True
    for member in 'foo', 'ham':
        assert python.call('add', ('team', member), timeout=5) is True
    # the notice reaches foo on the other server, where their room is joined
    assert wait_for_event(foo_chat, 'added') == [{'group': 'team', 'by': 'python'}]
    assert python.call('say', ('team', 'before'), timeout=5) is True
    for client in *foo_tabs, ham:
        assert wait_for_event(client, 'said')[0]['text'] == 'before'
    assert python.call('remove', ('team', 'foo'), timeout=5) is True
    assert wait_for_event(foo_chat, 'removed') == [{'group': 'team', 'by': 'python'}]
    assert python.call('say', ('team', 'after'), timeout=5) is True
    # ham, on b, hears it; neither of foo's tabs does, on a or on b
    assert wait_for_event(ham, 'said')[0]['text'] == 'after'
    for tab in foo_tabs:
        assert nothing_arrives(tab)


def test_a_user_stays_online_until_their_last_tab_closes_on_either_server(
        servers, live_tab, redis_client):
    a, b = servers
    foo = live_tab('foo', b, '/presence')
    on_a = live_tab('python', a, '/presence')
    # python's first tab, on a, is news to foo, on b
    assert wait_for_event(foo, 'online') == ['python']
    on_b = live_tab('python', b, '/presence')
    on_a.disconnect()
    # once a has seen the tab close (its record in Redis), foo has heard nothing
    wait_until(lambda: redis_client.scard(sids_key('/presence', 'python')) == 1,
               'a to record the closed tab')
    assert nothing_arrives(foo)
    assert foo.call('who', timeout=5) == ['foo', 'python']
    on_b.disconnect()
    assert wait_for_event(foo, 'offline') == ['python']

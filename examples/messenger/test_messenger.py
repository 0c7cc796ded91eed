"""messenger.py with the test clients: its namespaces, groups, presence and
rate limit, on the tests' own Redis. Each namespace is named at each call."""
import pytest

from live import wait_until

NAMESPACES = ['/chat', '/presence', '/groups']


@pytest.mark.parametrize('namespace', NAMESPACES)
def test_every_namespace_refuses_a_connect_without_login(flask_client, connect, namespace):
    # every namespace's connect checks the user, not only the first one's
    assert not connect(flask_client, namespace).is_connected(namespace)


def test_one_login_connects_every_namespace(flask_client, connect, login):
    assert login(flask_client).json == {'username': 'python'}
    client = connect(flask_client, '/chat')
    client.connect('/presence')
    client.connect('/groups')
    # the app sends no welcome: an acknowledgement shows who is connected
    assert client.emit('whoami', namespace='/chat', callback=True) == 'python'
    assert client.emit('who', namespace='/presence', callback=True) == ['python']
    assert client.is_connected('/groups')


@pytest.mark.parametrize(('request_options', 'status'), [
    pytest.param({'json': {'username': 'python', 'password': 'wrong'}}, 401, id='wrong password'),
    pytest.param({'json': {'username': 'nobody', 'password': 'bar'}}, 401, id='unknown user'),
    pytest.param({'json': {'username': 'python'}}, 400, id='no password'),
    pytest.param({'json': {'username': ['python'], 'password': 'is-great!'}}, 400,
                 id='a list for a name'),
    pytest.param({'json': ['python', 'is-great!']}, 400, id='a list, not an object'),
    pytest.param({'data': '{"username": ', 'content_type': 'application/json'}, 400,
                 id='JSON that does not parse'),
    pytest.param({'data': {'username': 'python', 'password': 'is-great!'}}, 415, id='a form'),
])
def test_bad_logins_get_a_clear_answer(flask_client, connect, request_options, status):
    assert flask_client.post('/login', **request_options).status_code == status
    assert not connect(flask_client, '/chat').is_connected('/chat')


def test_a_direct_message_reaches_each_tab_of_the_recipient_only(open_tab):
    python, ham = open_tab('python', '/chat'), open_tab('ham', '/chat')
    foo_tabs = [open_tab('foo', '/chat'), open_tab('foo', '/chat')]
    assert python.emit('send', 'foo', 'hello', namespace='/chat', callback=True) is True
    for tab in foo_tabs:
        received = tab.get_received('/chat')
        # a bare emit() in a handler goes to the handler's own namespace
        assert len(received) == 1
        assert received[0] == {'name': 'direct', 'args': [{'from': 'python', 'text': 'hello'}],
                               'namespace': '/chat'}
    assert python.get_received('/chat') == ham.get_received('/chat') == []


@pytest.mark.parametrize(('namespace', 'event', 'args'), [
    pytest.param('/chat', 'send', ('nobody', 'hello'), id='to an unknown user'),
    pytest.param('/chat', 'send', ('foo',), id='no text'),
    pytest.param('/chat', 'send', ('foo', {'text': 'hello'}), id='an object for a text'),
    pytest.param('/groups', 'create', (['team'],), id='a list for a group'),
    pytest.param('/groups', 'add', ('team', 'nobody'), id='adding an unknown user'),
    pytest.param('/groups', 'add', ('no such group', 'foo'), id='to a group that does not exist'),
    pytest.param('/groups', 'say', ('team', 'hello', 'extra'), id='one argument too many'),
])
def test_events_of_the_wrong_shape_get_false(open_tab, namespace, event, args):
    python = open_tab('python', namespace)
    if namespace == '/groups':
        assert python.emit('create', 'team', namespace='/groups', callback=True) is True
    foo = open_tab('foo', namespace)
    # a plain refusal: no 500, no traceback, nothing sent
    assert python.emit(event, *args, namespace=namespace, callback=True) is False
    assert foo.get_received(namespace) == []


def test_the_rate_limit_counts_every_tab_and_namespace_of_a_user(flask_app, open_tab):
    flask_app.config['RATE_LIMIT'] = 3
    python_chat, python_groups = open_tab('python', '/chat'), open_tab('python', '/groups')
    foo = open_tab('foo', '/chat')
    assert python_groups.emit('create', 'team', namespace='/groups', callback=True) is True
    answers = [python_chat.emit('send', 'foo', 'one', namespace='/chat', callback=True),
               python_groups.emit('say', 'team', 'two', namespace='/groups', callback=True),
               python_chat.emit('send', 'foo', 'three', namespace='/chat', callback=True),
               python_groups.emit('say', 'team', 'four', namespace='/groups', callback=True),
               open_tab('python', '/chat').emit('send', 'foo', 'five', namespace='/chat',
                                                callback=True)]
    assert answers == [True, True, True, 'too many messages', 'too many messages']
    # what was refused never went out; another user may still send
    assert [event['args'][0]['text'] for event in foo.get_received('/chat')] == ['one', 'three']
    assert foo.emit('send', 'python', 'hi', namespace='/chat', callback=True) is True


def test_the_rate_limit_ends_with_its_window(flask_app, open_tab):
    flask_app.config.update(RATE_LIMIT=1, RATE_WINDOW=1)
    python = open_tab('python', '/chat')

    def send():
        return python.emit('send', 'foo', 'hi', namespace='/chat', callback=True)

    assert send() is True
    assert send() == 'too many messages'
    # trying on and on while refused does not push the window back
    wait_until(lambda: send() is True, 'a message sent in the next window', timeout=3)


def test_a_user_stays_online_until_their_last_tab_closes(open_tab):
    foo = open_tab('foo', '/presence')
    first = open_tab('python', '/presence')
    # the others hear of python's first tab, and python's own tab does not
    assert foo.get_received('/presence') == [
        {'name': 'online', 'args': ['python'], 'namespace': '/presence'}]
    assert first.get_received('/presence') == []
    second = open_tab('python', '/presence')
    first.disconnect('/presence')
    # a second tab, and one of the two closing, change nothing for the others
    assert foo.get_received('/presence') == []
    assert foo.emit('who', namespace='/presence', callback=True) == ['foo', 'python']
    second.disconnect('/presence')
    assert foo.get_received('/presence') == [
        {'name': 'offline', 'args': ['python'], 'namespace': '/presence'}]
    assert foo.emit('who', namespace='/presence', callback=True) == ['foo']


def test_events_named_connect_and_disconnect_leave_presence_alone(open_tab):
    foo, python = open_tab('foo', '/presence'), open_tab('python', '/presence')
    assert len(foo.get_received('/presence')) == 1  # python online
    # a client can send events of these names; the server's handlers must not run
    assert python.emit('disconnect', 'transport close', namespace='/presence', callback=True) is False
    assert python.emit('connect', namespace='/presence', callback=True) is False
    # python is still online, and no one heard otherwise
    assert foo.emit('who', namespace='/presence', callback=True) == ['foo', 'python']
    assert foo.get_received('/presence') == []


def test_a_group_message_reaches_the_other_members_only(open_tab):
    python, ham = open_tab('python', '/groups'), open_tab('ham', '/groups')
    foo_before = open_tab('foo', '/groups')
    assert python.emit('create', 'team', namespace='/groups', callback=True) is True
    assert python.emit('add', 'team', 'foo', namespace='/groups', callback=True) is True
    foo_after = open_tab('foo', '/groups')
    assert python.emit('say', 'team', 'hello', namespace='/groups', callback=True) is True
    # foo's tab that was open when they were added, and the one opened since
    for tab in foo_before, foo_after:
        received = tab.get_received('/groups')
        assert len(received) == 1
        assert received[0]['args'] == [{'group': 'team', 'from': 'python', 'text': 'hello'}]
    # not the sender, nor ham, who is not a member
    assert python.get_received('/groups') == ham.get_received('/groups') == []


def test_a_member_added_to_a_group_is_told_on_chat(open_tab):
    foo_chat, foo_groups = open_tab('foo', '/chat'), open_tab('foo', '/groups')
    ham_chat = open_tab('ham', '/chat')
    python = open_tab('python', '/groups')
    assert python.emit('create', 'team', namespace='/groups', callback=True) is True
    assert python.emit('add', 'team', 'foo', namespace='/groups', callback=True) is True
    # foo's room is joined on /chat: the notice arrives there, to foo alone
    received = foo_chat.get_received('/chat')
    assert len(received) == 1
    assert received[0] == {'name': 'added', 'args': [{'group': 'team', 'by': 'python'}],
                           'namespace': '/chat'}
    assert foo_groups.get_received('/groups') == ham_chat.get_received('/chat') == []


def test_a_removed_member_hears_nothing_more_from_the_group(open_tab):
    python, ham = open_tab('python', '/groups'), open_tab('ham', '/groups')
    foo_tabs = [open_tab('foo', '/groups'), open_tab('foo', '/groups')]
    foo_chat, ham_chat = open_tab('foo', '/chat'), open_tab('ham', '/chat')
    assert python.emit('create', 'team', namespace='/groups', callback=True) is True
    for member in 'foo', 'ham':
        assert python.emit('add', 'team', member, namespace='/groups', callback=True) is True
    foo_chat.get_received('/chat'), ham_chat.get_received('/chat')  # the notices of the adds
    assert python.emit('remove', 'team', 'foo', namespace='/groups', callback=True) is True
    # foo is told, on /chat, and ham is not
    assert foo_chat.get_received('/chat') == [
        {'name': 'removed', 'args': [{'group': 'team', 'by': 'python'}], 'namespace': '/chat'}]
    assert ham_chat.get_received('/chat') == []
    assert python.emit('say', 'team', 'after', namespace='/groups', callback=True) is True
    # ham hears it; neither of foo's tabs, nor one foo opens now
    assert [event['args'][0]['text'] for event in ham.get_received('/groups')] == ['after']
    foo_tabs.append(open_tab('foo', '/groups'))
    assert python.emit('say', 'team', 'later', namespace='/groups', callback=True) is True
    for tab in foo_tabs:
        assert tab.get_received('/groups') == []
    # and foo may no longer say anything there
    assert foo_tabs[0].emit('say', 'team', 'hi', namespace='/groups', callback=True) is False


def test_only_the_owner_adds_and_removes_members(open_tab):
    python, foo, ham = (open_tab(user, '/groups') for user in ['python', 'foo', 'ham'])
    assert python.emit('create', 'team', namespace='/groups', callback=True) is True
    # another user cannot take the group's name
    assert foo.emit('create', 'team', namespace='/groups', callback=True) is False
    assert python.emit('add', 'team', 'foo', namespace='/groups', callback=True) is True
    assert foo.emit('add', 'team', 'ham', namespace='/groups', callback=True) is False
    assert foo.emit('remove', 'team', 'python', namespace='/groups', callback=True) is False
    # the owner cannot be removed, even by themselves
    assert python.emit('remove', 'team', 'python', namespace='/groups', callback=True) is False
    assert foo.emit('say', 'team', 'still here', namespace='/groups', callback=True) is True
    assert len(python.get_received('/groups')) == 1
    assert ham.get_received('/groups') == []

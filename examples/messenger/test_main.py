"""`python messenger.py`, whose `__main__` block serves on port 5000 and
starts the feed thread, run on a free port by on_a_free_port.py."""
import sys
from pathlib import Path

import requests

from live import live_client, printed_url, running, wait_for_event

HERE = Path(__file__).parent


def test_python_messenger_py_on_a_free_port_runs_its_feed(tmp_path, redis_url, feed_service,
                                                          login):
    command = [sys.executable, 'on_a_free_port.py', 'messenger']
    env = {'SECRET_KEY': 'a key for the live tests', 'REDIS_URL': redis_url,
           'SESSION_COOKIE_SECURE': 'false',  # over http, requests sends back no Secure cookie
           'FEED_URL': feed_service.url, 'FEED_INTERVAL': '0.05'}
    log_path = tmp_path / 'messenger.log'
    with running(command, log_path, cwd=HERE, env=env) as server:
        url = printed_url(server, log_path)
        session = requests.Session()
        assert login(session, url=url).status_code == 200
        with live_client(session) as client:
            client.connect(url, namespace='/chat', transports=['websocket'])
            feed_service.item = {'text': 'from the feed'}
            # the thread that the `__main__` block started is running
            assert wait_for_event(client, 'announcement') == [{'text': 'from the feed'}]
    # nor did the thread, or anything else, die on the way
    assert 'Traceback' not in log_path.read_text()

import logging

import pytest
import requests

NAMED = 'https://app.example'
FOREIGN = 'https://elsewhere.example'
# engineio/server.py, handle_request(): the line it logs as it refuses FOREIGN
REFUSAL_LOGGED = (f'{FOREIGN} is not an accepted origin. '
                  '(further occurrences of this error will be logged with level INFO)')


def allow_app_example(origin):
    # Called with the Origin header (and the WSGI environ, if it takes two
    # arguments), and with None for a request that has none: the CORS headers
    # of every response ask it too (engineio/base_server.py, _cors_headers).
    return origin is not None and (origin == NAMED or origin.endswith('.app.example'))


def handshake(url, origin):
    """Socket.IO's first request, as a page of origin sends it (None: no Origin)."""
    return requests.get(url + '/socket.io/?EIO=4&transport=polling',
                        headers={'Origin': origin}, timeout=5)


@pytest.mark.parametrize(('allowed', 'own', 'named', 'foreign'), [
    pytest.param(None, 200, 400, 400, id='None: its own origin only'),
    pytest.param(NAMED, 400, 200, 400, id='a string: that origin, and not its own'),
    pytest.param([NAMED, 'https://www.app.example'], 400, 200, 400, id='a list'),
    pytest.param(allow_app_example, 400, 200, 400, id='a callable'),
    pytest.param('*', 200, 200, 200, id="'*': any"),
    pytest.param([NAMED, '*'], 200, 200, 200, id="a list with '*' in it: any"),
    pytest.param([], 200, 200, 200, id='[]: any'),
])
def test_what_cors_allowed_origins_lets_in(start_site, allowed, own, named, foreign):
    url = start_site(SOCKETIO_CORS_ALLOWED_ORIGINS=allowed)
    # the server's own origin, the one named, and another: 200 lets in, 400 refuses
    assert [handshake(url, origin).status_code for origin in (url, NAMED, FOREIGN)] == [
        own, named, foreign]
    # with no Origin header at all, which a browser always sends, all let in
    assert handshake(url, None).status_code == 200


def test_a_refused_origin_gets_400_and_one_error_in_the_log(start_site, caplog):
    url = start_site()
    responses = [handshake(url, FOREIGN) for _ in range(2)]
    # what the client sees, each time: 400, and Engine.IO's reason as a JSON string
    assert [(response.status_code, response.text) for response in responses] == [
        (400, '"Not an accepted origin."')] * 2
    # what the server logs: one ERROR; the next refusals go at INFO, below the
    # ERROR level that python-engineio gives its logger (engineio/base_server.py)
    assert [(record.levelno, record.getMessage()) for record in caplog.records
            if record.name == 'engineio.server'] == [(logging.ERROR, REFUSAL_LOGGED)]


def test_a_callable_that_cannot_take_none_fails_requests_without_an_origin(start_site):
    url = start_site(SOCKETIO_CORS_ALLOWED_ORIGINS=lambda origin: origin.endswith('.app.example'))
    # a page's request is answered as the callable says...
    assert handshake(url, FOREIGN).status_code == 400
    # ...but one with no Origin makes it raise (None has no endswith): a 500
    assert handshake(url, None).status_code == 500

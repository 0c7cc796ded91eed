"""For tests against real servers: each started with its own command, as you
start it, and a Socket.IO client that carries a requests.Session's cookies."""
import atexit
import contextlib
import os
import re
import signal
import socket
import subprocess
import time

import socketio as python_socketio  # the client package; `socketio` is the app's
import websocket

# Ctrl+C, a CI timeout or a process manager, a closed terminal (none on Windows)
STOP_SIGNALS = [getattr(signal, name) for name in ['SIGINT', 'SIGTERM', 'SIGHUP']
                if hasattr(signal, name)]
started = []  # every process that running() started, for stop_left_running()


@contextlib.contextmanager
def running(command, log_path, cwd=None, env=None, stop_timeout=10, **popen_options):
    """Run command in the folder cwd until the with block ends; yield its Popen.

    It logs to log_path. env adds to this process's environment, and a None
    in it removes that variable. At the end it gets SIGTERM, and SIGKILL if it
    has not stopped stop_timeout seconds later, which is then an error.
    """
    environment = {**os.environ, **(env or {})}
    with open(log_path, 'w') as log, signals_held():
        # a session of its own: Ctrl+C in a terminal stays pytest's, and the
        # process and its workers can be killed together
        process = subprocess.Popen(
            command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env={name: value for name, value in environment.items() if value is not None},
            start_new_session=True, **popen_options)
        started.append(process)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=stop_timeout)
        except subprocess.TimeoutExpired:
            kill(process)
            process.wait()
            raise RuntimeError(f'{command} ignored SIGTERM for {stop_timeout} s: killed')


def free_port():
    """A port of 127.0.0.1 that was free a moment ago."""
    with socket.create_server(('127.0.0.1', 0)) as probe:
        return probe.getsockname()[1]


@contextlib.contextmanager
def redis_server(folder, port):
    """A redis-server of our own on port of 127.0.0.1, until the with block
    ends; it saves nothing to disk. Yields its URL, or None if another
    process holds the port: it has exited then."""
    import redis  # the redis package: only the tests that run Redis need it

    command = ['redis-server', '--bind', '127.0.0.1', '--port', str(port),
               '--save', '', '--appendonly', 'no', '--dir', str(folder)]
    with running(command, folder / f'redis-{port}.log') as process:
        with redis.Redis(port=port, socket_timeout=1) as client:
            def answered_or_exited():
                if process.poll() is not None:
                    return True
                try:
                    # whoever answers may be a server that took the port first
                    return client.info('server')['process_id'] == process.pid
                except redis.RedisError:
                    return False  # not listening yet
            wait_until(answered_or_exited, f'redis-server on port {port}')
        yield f'redis://127.0.0.1:{port}/0' if process.poll() is None else None


def printed_url(process, log_path, timeout=10):
    """The http://127.0.0.1:PORT that a server prints once it listens, as
    Werkzeug's `Running on` and gunicorn's `Listening at` lines do."""
    deadline = time.monotonic() + timeout
    while not (printed := re.search(r'http://127\.0\.0\.1:\d+', log_path.read_text())):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f'no URL from {process.args}:\n{log_path.read_text()}')
        time.sleep(0.01)  # not yet: look again
    return printed.group()


@atexit.register
def stop_left_running():
    # A second Ctrl+C can cut a with block's end short: whatever running()
    # started and is still running goes as Python exits.
    for process in started:
        if process.poll() is None:
            kill(process)


def interrupt_on_stop_signals():
    """Let SIGTERM (a CI timeout, a process manager) and SIGHUP (a closed
    terminal) end the run as Ctrl+C does, with a KeyboardInterrupt, so that
    pytest still runs every fixture's teardown. Call it from conftest.py."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if hasattr(signal, 'SIGHUP'):  # not on Windows
        signal.signal(signal.SIGHUP, signal.default_int_handler)


def kill(process):
    """SIGKILL the process and whatever it started, its workers say (on
    Windows, the process alone)."""
    if hasattr(os, 'killpg'):
        os.killpg(process.pid, signal.SIGKILL)
    else:
        process.kill()


@contextlib.contextmanager
def signals_held():
    """Hold Ctrl+C, SIGTERM and SIGHUP back until the with block ends, then act
    on the first: amid starting a process, or in code that would swallow it."""
    held = []
    handlers = {number: signal.getsignal(number) for number in STOP_SIGNALS}
    try:
        for number in STOP_SIGNALS:
            signal.signal(number, lambda number, frame: held.append(number))
        yield
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
    if held:
        signal.raise_signal(held[0])


@contextlib.contextmanager
def no_traceback_logged(log_path):
    """Fail if a traceback reaches the log at log_path while the with block
    runs: a fixture around one test errors that test alone. A server may log
    after a client has gone, and so after the block: check the whole log too
    when the server stops."""
    start = log_path.stat().st_size
    yield
    # bad input gets a plain answer, never a traceback in the server's log
    assert 'Traceback' not in log_path.read_bytes()[start:].decode()


def wait_until(condition, what, timeout=5):
    """Return once condition() is true; fail, saying what it waited for, after timeout s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f'waited {timeout} s for {what}')
        time.sleep(0.01)


def wait_for_event(client, name, timeout=5, namespace=None):
    """The arguments of the next event called name that reaches client within
    timeout s, however long a thread of the app takes to send it. client is a
    python-socketio SimpleClient, or a Flask-SocketIO test client on namespace
    ('/' unless named). The events before it are dropped; a test client's
    get_received() hands over what came with it too, which is dropped as well."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        if hasattr(client, 'get_received'):  # a test client: what came so far
            for event in client.get_received(namespace):
                if event['name'] == name:
                    return event['args']
            time.sleep(0.01)  # nothing yet: look again
        else:
            try:
                event_name, *args = client.receive(timeout=left)
            except python_socketio.exceptions.TimeoutError:
                break
            if event_name == name:
                return args
    raise TimeoutError(f'no {name!r} event within {timeout} s')


def nothing_arrives(client, seconds=0.5, namespace=None):
    """True if no event reaches client within seconds: how a test says that an
    emit did not go somewhere. client is a SimpleClient, or a test client on
    namespace ('/' unless named). An event that comes later would go unseen,
    so where you can, send a marker after it and wait for that."""
    if hasattr(client, 'get_received'):  # a test client: look now and then
        deadline = time.monotonic() + seconds
        while not (received := client.get_received(namespace)) and time.monotonic() < deadline:
            time.sleep(0.01)
        return not received
    try:
        client.receive(timeout=seconds)
    except python_socketio.exceptions.TimeoutError:
        return True
    return False


def next_packet(ws, timeout=5):
    """The next Engine.IO packet that the server sends on ws, a websocket-client
    WebSocket, but pings, which it answers as a client does that wants to
    stay; None once the server has closed the connection. Fail after
    timeout s of nothing but pings."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            packet = ws.recv()
        except websocket.WebSocketConnectionClosedException:
            return None
        if packet in ('', '1'):  # a close frame, or Engine.IO's close packet
            return None
        if packet != '2':  # Engine.IO's ping
            return packet
        ws.send('3')  # its pong
    raise TimeoutError(f'nothing but pings for {timeout} s')


def connect_again(ws):
    """Send Socket.IO's connect to / on ws, whose namespace the server has
    closed, and return the server's answer. The server sends its close (41)
    before it forgets the sid, and until then answers a connect with
    "Unable to connect": send it again until the answer is another."""
    answers = []

    def answered():
        ws.send('40')
        answers.append(next_packet(ws))
        return answers[-1] != '44"Unable to connect"'

    wait_until(answered, 'the server to forget the closed namespace')
    return answers[-1]


class WebSocketClosingAtOnce(websocket.WebSocket):
    """A client WebSocket whose close() sends its close frame and hangs up,
    where websocket-client's waits up to 3 s for the server's."""
    def close(self, status=websocket.STATUS_NORMAL, reason=b'', timeout=0):
        super().close(status, reason, timeout)


def live_client(session=None, **websocket_options):
    """A python-socketio SimpleClient that sends the cookies of session, a
    requests.Session. Use it in a with block, which disconnects it however the
    block ends. websocket_options go to its WebSocket: origin='...' sets the
    Origin header."""
    # handle_sigint=False leaves Ctrl+C to pytest: python-engineio's own handler
    # disconnects every client first, and an error there can take its place
    return python_socketio.SimpleClient(
        http_session=session, handle_sigint=False,
        websocket_extra_options={'class_': WebSocketClosingAtOnce, **websocket_options})

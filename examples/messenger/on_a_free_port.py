"""Run a module as `python -m module` does, `__main__` block and all, but
with SocketIO.run() serving on a free port of 127.0.0.1, whatever port the
module asks for:

    python on_a_free_port.py messenger

Werkzeug prints the URL it serves on, which live.printed_url() reads."""
import runpy
import sys

from flask_socketio import SocketIO

run = SocketIO.run


def run_on_a_free_port(self, app, host=None, port=None, **options):
    # Port 0: the system picks a free one. And under a test there is no
    # terminal, where Flask-SocketIO refuses Werkzeug's server unless allowed.
    run(self, app, host='127.0.0.1', port=0, **{**options, 'allow_unsafe_werkzeug': True})


SocketIO.run = run_on_a_free_port
module = sys.argv.pop(1)  # the rest of the command line is the module's own
runpy.run_module(module, run_name='__main__', alter_sys=True)

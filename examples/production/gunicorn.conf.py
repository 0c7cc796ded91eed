"""gunicorn's settings for one process of myproject, listening on 127.0.0.1 at
the port in PORT. Run it from the folder of myproject.py, with the variables
of /etc/myproject.env set, once with PORT=8000 and once with PORT=8001:

    PORT=8000 gunicorn -c production/gunicorn.conf.py
"""
import os

wsgi_app = 'myproject:create_app()'
bind = '127.0.0.1:' + os.environ['PORT']  # for nginx only; with PORT set, gunicorn's default is 0.0.0.0
workers = 1  # Flask-SocketIO needs one worker per process: run more processes instead
threads = 100  # each open WebSocket holds one of these threads
graceful_timeout = 3  # on SIGTERM, open WebSockets are cut after 3 s (they never end by themselves)
control_socket_disable = True  # since 25.1, a second gunicorn deletes the first one's control socket

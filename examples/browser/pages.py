"""myproject's app with the page a reader's app has, and a page of another site."""
from flask import Blueprint, Flask, render_template, send_from_directory

from myproject import create_app

# socket.io-client's own build, from the npm registry (README.md)
client = Blueprint('client', __name__, static_folder='node_modules/socket.io-client/dist',
                   static_url_path='/js', template_folder='.')


def create_site(test_config=None):
    """myproject's app, with its page at /: a template, for the CSRF token."""
    app = create_app(test_config)
    app.register_blueprint(client)
    app.add_url_rule('/', 'page', lambda: render_template('page.html'))
    return app


def create_elsewhere():
    """Another site, whose page tries the app at ?app=URL (elsewhere.html)."""
    app = Flask(__name__)
    app.register_blueprint(client)
    app.add_url_rule('/', 'page', lambda: send_from_directory(client.root_path, 'elsewhere.html'))
    return app

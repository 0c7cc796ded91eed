import pytest
from playwright.sync_api import expect

WELCOME = 'Welcome, python'
# what socket.io-client's connect_error says, as the page shows it
NO_USER = 'Refused: Connection rejected by server'  # the connect handler said no
BAD_ORIGIN = 'Refused: websocket error'  # the Origin check refused the WebSocket
SAMESITE = [pytest.param(None, id='SameSite unset'), 'Lax', 'Strict']
WHERE = ['same site', 'another site']


def log_in(page, site):
    """Log in as python with the page's form, and wait for the socket's welcome."""
    page.goto(site)
    page.get_by_placeholder('User name').fill('python')
    page.get_by_placeholder('Password').fill('is-great!')
    page.get_by_role('button', name='Log in').click()
    expect(page.locator('#status')).to_have_text(WELCOME)


def visit_elsewhere(page, elsewhere_url, site, attempt):
    """In the same browser, open the other origin's page, trying attempt on site."""
    other_page = page.context.new_page()
    other_page.goto(f'{elsewhere_url}/?app={site}&try={attempt}')
    return other_page


def test_login_form_then_connect_welcomes_the_user(start_site, page):
    site = start_site()
    page.goto(site)
    # the page connects at once: refused, there is no session yet
    expect(page.locator('#status')).to_have_text(NO_USER)
    # after the form's login, its new connect is welcomed by name
    log_in(page, site)


def test_after_logout_a_new_connect_is_refused(start_site, page):
    site = start_site()
    log_in(page, site)
    page.get_by_role('button', name='Log out').click()
    # the page reloads and connects again, without a session now
    expect(page.locator('#status')).to_have_text(NO_USER)


@pytest.mark.parametrize('where', WHERE)
def test_another_origins_socket_is_refused_by_default(start_site, page, elsewhere, where, caplog):
    site = start_site()
    log_in(page, site)
    other_page = visit_elsewhere(page, elsewhere[where], site, 'socket')
    # the Origin check refuses the WebSocket before any handler runs
    expect(other_page.locator('#status')).to_have_text(BAD_ORIGIN)
    # and logs the origin the browser sent: the other page's
    assert f'{elsewhere[where]} is not an accepted origin.' in caplog.text


# With '*', only the cookie decides: what each SameSite lets through, as measured
@pytest.mark.parametrize('samesite', SAMESITE)
@pytest.mark.parametrize(('where', 'result'), [('same site', WELCOME), ('another site', NO_USER)])
def test_with_star_another_origins_socket_gets_what_samesite_allows(
        start_site, page, elsewhere, samesite, where, result):
    site = start_site(SESSION_COOKIE_SAMESITE=samesite, SOCKETIO_CORS_ALLOWED_ORIGINS='*')
    log_in(page, site)
    other_page = visit_elsewhere(page, elsewhere[where], site, 'socket')
    # the cookie went along (welcome), or stayed home (no user)
    expect(other_page.locator('#status')).to_have_text(result)


def test_with_no_cors_headers_at_all_another_origins_socket_still_gets_in(
        start_site, page, elsewhere):
    # [] switches the check off and sends no CORS headers: a WebSocket needs none
    site = start_site(SOCKETIO_CORS_ALLOWED_ORIGINS=[])
    log_in(page, site)
    other_page = visit_elsewhere(page, elsewhere['same site'], site, 'socket')
    # the other page has the user's welcome
    expect(other_page.locator('#status')).to_have_text(WELCOME)


@pytest.mark.parametrize(('samesite', 'where', 'logged_out'), [
    pytest.param(None, 'same site', True, id='unset-same site'),
    pytest.param(None, 'another site', True, id='unset-another site'),
    ('Lax', 'same site', True),
    ('Lax', 'another site', False),
    ('Strict', 'same site', True),
    ('Strict', 'another site', False),
])
def test_without_csrf_a_form_post_from_another_origin_to_logout(
        start_site, page, elsewhere, samesite, where, logged_out):
    # CSRF protection off, to see what SameSite alone does
    site = start_site(SESSION_COOKIE_SAMESITE=samesite, WTF_CSRF_ENABLED=False)
    log_in(page, site)
    # the other page's form posts to /logout, seconds after the login
    visit_elsewhere(page, elsewhere[where], site, 'logout').wait_for_url(site + '/logout')
    page.reload()
    # the app's own page connects again: with the session, or without it
    expect(page.locator('#status')).to_have_text(NO_USER if logged_out else WELCOME)


@pytest.mark.parametrize('samesite', SAMESITE)
@pytest.mark.parametrize('where', WHERE)
def test_without_csrf_a_form_post_from_another_origin_to_login(
        start_site, page, elsewhere, samesite, where):
    site = start_site(SESSION_COOKIE_SAMESITE=samesite, WTF_CSRF_ENABLED=False)
    # the other page's form logs the browser in as foo
    visit_elsewhere(page, elsewhere[where], site, 'login').wait_for_url(site + '/login')
    page.goto(site)
    # whatever SameSite says, the app now takes the user for foo
    expect(page.locator('#status')).to_have_text('Welcome, foo')


@pytest.mark.parametrize('attempt', ['login', 'logout'])
@pytest.mark.parametrize('where', WHERE)
def test_csrf_protection_refuses_the_forms_of_another_origin(
        start_site, page, elsewhere, attempt, where):
    site = start_site()
    if attempt == 'logout':
        log_in(page, site)
    other_page = visit_elsewhere(page, elsewhere[where], site, attempt)
    # the form has no CSRF token: 400, and the session is as it was
    expect(other_page.locator('body')).to_contain_text('The CSRF token is missing.')
    page.goto(site)
    expect(page.locator('#status')).to_have_text(WELCOME if attempt == 'logout' else NO_USER)

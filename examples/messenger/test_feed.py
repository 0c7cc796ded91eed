"""The app's feed thread, against a stand-in for the outside service that
answers, fails, or never answers; and what a thread that dies does to a test."""
from pathlib import Path

from live import nothing_arrives, wait_for_event, wait_until


def test_an_announcement_reaches_everyone_on_chat(feed, open_tab):
    python, foo = open_tab('python', '/chat'), open_tab('foo', '/chat')
    ham = open_tab('ham', '/groups')
    feed.item = {'text': 'maintenance at noon'}
    for client in python, foo:
        assert wait_for_event(client, 'announcement', namespace='/chat') == [
            {'text': 'maintenance at noon'}]
    # once: the polls after it bring nothing new
    polls = feed.polls
    wait_until(lambda: feed.polls >= polls + 2, 'two more polls')
    assert nothing_arrives(python, namespace='/chat')
    # and not on another namespace
    assert nothing_arrives(ham, namespace='/groups')


def test_a_feed_that_never_answers_is_given_up_on(feed, open_tab):
    python = open_tab('python', '/chat')
    feed.hang = True
    # the app's call times out, and the thread polls again, rather than
    # waiting for the answer for ever
    wait_until(lambda: feed.hung >= 2, 'a second poll of the feed that never answers')
    feed.item, feed.hang = {'text': 'back'}, False
    assert wait_for_event(python, 'announcement', namespace='/chat') == [{'text': 'back'}]


def test_a_feed_item_of_the_wrong_shape_is_skipped(feed, open_tab):
    python = open_tab('python', '/chat')
    feed.item = ['a list, not an object']
    wait_until(lambda: feed.polls >= 2, 'two polls of the wrong shape')
    feed.item = {'text': 'fine'}
    # the thread went on past it
    assert wait_for_event(python, 'announcement', namespace='/chat') == [{'text': 'fine'}]


THREAD_THAT_DIES = '''
import threading


def test_during_which_a_thread_dies():
    thread = threading.Thread(target=lambda: 1 / 0)
    thread.start()
    thread.join()
'''


def test_a_thread_that_dies_fails_the_test_with_pytest_ini(pytester):
    pytester.makepyfile(THREAD_THAT_DIES)
    # by default, pytest only warns (run apart: this run's own pytest.ini would apply)
    result = pytester.runpytest_subprocess('-p', 'no:cacheprovider')
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(['*PytestUnhandledThreadExceptionWarning*'])
    # with this folder's pytest.ini, the test fails, and says why
    pytester.makeini((Path(__file__).parent / 'pytest.ini').read_text())
    result = pytester.runpytest_subprocess('-p', 'no:cacheprovider')
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(['*ZeroDivisionError*'])

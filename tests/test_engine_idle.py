"""IMAP IDLE through the engine's socket layer, against a real Dovecot.

The per-line deadline reader must leave a socket made non-blocking alone:
imapclient's ``idle_check`` then returns as soon as the server has spoken, and
after its own timeout when it has not, whatever the read timeout.
"""

import select
import threading
import time

from carerix_mail.engine import ImapMailbox


def _deliver_later(dovecot, login, raw, delay):
    """Deliver ``raw`` after ``delay`` seconds; the dict gets the time of the OK."""
    done = {}

    def run():
        time.sleep(delay)
        dovecot.deliver(login, "INBOX", raw)
        done["at"] = time.monotonic()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, done


def test_engine_idle_check_returns_at_once_on_delivery(mail_user, dovecot, new_message):
    settings = mail_user.settings(read_timeout=7.0)
    with ImapMailbox(settings) as mailbox:
        client = mailbox.client
        client.select_folder("INBOX", readonly=True)
        client.idle()
        thread, done = _deliver_later(dovecot, mail_user.login, new_message(), 0.3)
        started = time.monotonic()
        responses = client.idle_check(timeout=5)
        returned = time.monotonic()
        thread.join()
        client.idle_done()
        assert (1, b"EXISTS") in responses
        # Well below the 7 s read timeout: it answered when the server spoke.
        assert returned - started < 3.0
        assert returned - done["at"] < 1.0
        # The socket is blocking again, with a read timeout.
        assert 0 < client.socket().gettimeout() <= 7.0
        assert client.folder_status("INBOX", [b"MESSAGES"])[b"MESSAGES"] == 1


def test_engine_idle_check_respects_its_own_timeout(mail_user):
    settings = mail_user.settings(read_timeout=7.0)
    with ImapMailbox(settings) as mailbox:
        client = mailbox.client
        client.select_folder("INBOX", readonly=True)
        client.idle()
        started = time.monotonic()
        assert client.idle_check(timeout=0.5) == []
        elapsed = time.monotonic() - started
        client.idle_done()
        assert 0.45 <= elapsed < 1.5


def test_engine_idle_check_sees_lines_already_buffered(mail_user, dovecot, new_message):
    """Two notifications read in one packet: the second is returned by the
    next idle_check at once, not after another packet or the timeout."""
    with ImapMailbox(mail_user.settings(read_timeout=7.0)) as mailbox:
        client = mailbox.client
        client.select_folder("INBOX", readonly=True)
        client.idle()
        dovecot.deliver(mail_user.login, "INBOX", new_message(1))
        # Both untagged lines (EXISTS, RECENT) arrive in one packet.
        assert select.select([client._imap.sock], [], [], 5)[0]
        time.sleep(0.1)
        reader = client._imap._engine_reader
        client._imap.sock.setblocking(False)
        first = client._imap._get_line()  # reads the packet, returns one line
        client._imap.sock.setblocking(True)
        assert first.endswith(b"EXISTS")
        assert reader.buffered > 0
        started = time.monotonic()
        responses = client.idle_check(timeout=5)
        assert time.monotonic() - started < 0.5
        client.idle_done()
        assert responses == [(1, b"RECENT")]

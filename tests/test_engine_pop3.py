"""POP3 engine against a real Dovecot: login, diagnosis, UIDL sync, deletion policy."""

import datetime
import itertools
import re
import socket
import threading
import time

import pytest

from carerix_mail.engine import (
    AuthenticationFailed,
    CertificateHostMismatch,
    CertificateUntrusted,
    ConnectionRefused,
    ConnectionTimeout,
    Pop3Mailbox,
    StartTlsNotOffered,
    uidls_to_delete,
)

BYTES_REPR = re.compile(r"\bb['\"]")

# -- login and diagnosis -------------------------------------------------------------


@pytest.mark.parametrize("security", ["none", "starttls", "ssl"])
def test_engine_pop3_login(mail_user, new_message, security):
    mail_user.deliver_many("INBOX", [new_message(1)])
    with Pop3Mailbox(mail_user.settings("pop3", security)) as mailbox:
        listing = mailbox.list_uidls()
        if security != "none":
            assert mailbox.pop.sock.version().startswith("TLS")
    assert len(listing) == 1 and listing[0][0] == 1 and listing[0][2] > 0
    assert not mailbox.connected


def test_engine_pop3_wrong_password(mail_user):
    settings = mail_user.settings("pop3", password="Bad" + mail_user.password)
    with pytest.raises(AuthenticationFailed) as info:
        Pop3Mailbox(settings).__enter__()
    err = info.value
    for text in (str(err), repr(err), repr(err.params), err.user_message()):
        assert settings.password not in text
        assert not BYTES_REPR.search(text) and "-ERR" not in text
    assert mail_user.login in str(err)


def test_engine_pop3_refused_port(mail_user, closed_port):
    with pytest.raises(ConnectionRefused):
        Pop3Mailbox(mail_user.settings("pop3", port=closed_port)).__enter__()


def test_engine_pop3_untrusted_ca(mail_user):
    with pytest.raises(CertificateUntrusted):
        Pop3Mailbox(mail_user.settings("pop3", "ssl", ca_file=None)).__enter__()


def test_engine_pop3_wrong_host_name(mail_user, dovecot):
    settings = mail_user.settings(
        "pop3", "ssl", host=dovecot.other_host, port=dovecot.other_pop3s_port
    )
    with pytest.raises(CertificateHostMismatch):
        Pop3Mailbox(settings).__enter__()


def test_engine_pop3_starttls_not_offered(plain_user):
    with pytest.raises(StartTlsNotOffered):
        Pop3Mailbox(plain_user.settings("pop3", "starttls")).__enter__()
    with Pop3Mailbox(plain_user.settings("pop3", "none")) as mailbox:
        assert mailbox.list_uidls() == []


def test_engine_pop3_silent_server_times_out(mail_user, silent_server):
    settings = mail_user.settings(
        "pop3", port=silent_server, connect_timeout=1.0, read_timeout=1.0
    )
    start = time.monotonic()
    with pytest.raises(ConnectionTimeout):
        Pop3Mailbox(settings).__enter__()
    assert time.monotonic() - start < 3


@pytest.fixture
def trickle_server():
    """A local server that sends one byte every 0.2 s and never ends a line:
    each byte comes well within any per-read socket timeout (a tarpit)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    stop = threading.Event()

    def serve():
        sock.settimeout(10)
        try:
            conn, _addr = sock.accept()
        except OSError:
            return
        with conn:
            for byte in itertools.islice(itertools.cycle(b"+OK slow"), 40):
                if stop.wait(0.2):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        sock.close()
        thread.join(5)


def test_engine_pop3_trickling_server_times_out(mail_user, trickle_server):
    settings = mail_user.settings(
        "pop3", port=trickle_server, connect_timeout=1.0, read_timeout=1.0
    )
    start = time.monotonic()
    with pytest.raises(ConnectionTimeout):
        Pop3Mailbox(settings).__enter__()
    # The server would trickle for 8 s; the greeting line has a deadline.
    assert time.monotonic() - start < 3


# -- sync by UIDL --------------------------------------------------------------------


def test_engine_pop3_new_messages_only(mail_user, new_message):
    raws = [new_message(i) for i in range(4)]
    mail_user.deliver_many("INBOX", raws)
    settings = mail_user.settings("pop3")
    with Pop3Mailbox(settings) as mailbox:
        messages = list(mailbox.new_messages(set()))
    assert [m.raw for m in messages] == raws
    assert all(m.size == len(m.raw) and not m.oversize for m in messages)

    known = {m.uidl for m in messages[:3]}
    with Pop3Mailbox(settings) as mailbox:
        again = list(mailbox.new_messages(known))
    assert [m.uidl for m in again] == [messages[3].uidl]


def test_engine_pop3_long_lines_and_dots(mail_user):
    raw = b"Subject: long\r\n\r\n" + b"y" * 5000 + b"\r\n.\r\n..two dots\r\n.end\r\n"
    mail_user.deliver_many("INBOX", [raw])
    with Pop3Mailbox(mail_user.settings("pop3")) as mailbox:
        (message,) = mailbox.new_messages(set())
    assert message.raw == raw


def test_engine_pop3_oversize_reported(mail_user, new_message):
    mail_user.deliver_many("INBOX", [new_message(1), new_message(2, size=30_000)])
    with Pop3Mailbox(mail_user.settings("pop3")) as mailbox:
        small, big = mailbox.new_messages(set(), max_message_size=10_000)
    assert small.raw and not small.oversize
    assert big.raw is None and big.oversize and big.size > 30_000
    assert big.server_id == "pop3:" + big.uidl != small.server_id


def test_engine_pop3_keep_copy_deletes_nothing(mail_user, dovecot, new_message):
    mail_user.deliver_many("INBOX", [new_message(i) for i in range(3)])
    with Pop3Mailbox(mail_user.settings("pop3")) as mailbox:
        assert len(list(mailbox.new_messages(set()))) == 3
    assert dovecot.pop3_count(mail_user.login) == 3


def test_engine_pop3_delete_after_commit(mail_user, dovecot, new_message):
    mail_user.deliver_many("INBOX", [new_message(i) for i in range(3)])
    with Pop3Mailbox(mail_user.settings("pop3", "ssl")) as mailbox:
        messages = list(mailbox.new_messages(set()))
        # ... the caller commits here ...
        assert mailbox.delete([messages[0].uidl, messages[2].uidl, "unknown"]) == [
            messages[0].uidl,
            messages[2].uidl,
        ]
        assert dovecot.pop3_count(mail_user.login) == 3  # applied by QUIT only
    assert dovecot.pop3_count(mail_user.login) == 1
    with Pop3Mailbox(mail_user.settings("pop3")) as mailbox:
        assert mailbox.uidls() == [messages[1].uidl]


def test_engine_pop3_error_leaves_mail_on_server(mail_user, dovecot, new_message):
    mail_user.deliver_many("INBOX", [new_message(i) for i in range(2)])

    class CommitFailed(Exception):
        pass

    with pytest.raises(CommitFailed):
        with Pop3Mailbox(mail_user.settings("pop3")) as mailbox:
            mailbox.delete(mailbox.uidls())
            raise CommitFailed
    assert dovecot.pop3_count(mail_user.login) == 2


# -- deletion policy (pure, injected clock) ------------------------------------------

NOW = datetime.datetime(2024, 6, 30, 12, 0)


def _archived():
    return {
        "old": NOW - datetime.timedelta(days=30),
        "week": NOW - datetime.timedelta(days=7),
        "exactly5": NOW - datetime.timedelta(days=5),
        "fresh": NOW - datetime.timedelta(hours=1),
        "gone": NOW - datetime.timedelta(days=99),  # no longer on the server
    }


PRESENT = ["fresh", "new-unarchived", "old", "week", "exactly5"]


def test_engine_pop3_policy_no_copy_deletes_all_archived():
    assert uidls_to_delete(_archived(), PRESENT, False, None, NOW) == [
        "fresh",
        "old",
        "week",
        "exactly5",
    ]


def test_engine_pop3_policy_keep_copy_forever():
    assert uidls_to_delete(_archived(), PRESENT, True, None, NOW) == []


@pytest.mark.parametrize(
    "days, expected",
    [
        (5, ["old", "week", "exactly5"]),
        (7, ["old", "week"]),
        (10, ["old"]),
        (60, []),
        (0, ["fresh", "old", "week", "exactly5"]),
    ],
)
def test_engine_pop3_policy_remove_after_days(days, expected):
    assert uidls_to_delete(_archived(), PRESENT, True, days, NOW) == expected


def test_engine_pop3_policy_clock_is_injected():
    archived = {"a": NOW}
    later = NOW + datetime.timedelta(days=3)
    assert uidls_to_delete(archived, ["a"], True, 3, NOW) == []
    assert uidls_to_delete(archived, ["a"], True, 3, later) == ["a"]

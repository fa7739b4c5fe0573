"""IMAP engine against a real Dovecot: login, diagnosis, folders, sync, append."""

import re
import time

import pytest

from carerix_mail.engine import (
    AuthenticationFailed,
    CertificateHostMismatch,
    CertificateUntrusted,
    ConnectionRefused,
    ConnectionTimeout,
    Cursor,
    FolderNotFound,
    HostNotFound,
    ImapMailbox,
    StartTlsNotOffered,
    TlsNotSpokenOnPort,
)

BYTES_REPR = re.compile(r"\bb['\"]")

# -- login and diagnosis -------------------------------------------------------------


@pytest.mark.parametrize("security", ["none", "starttls", "ssl"])
def test_engine_imap_login(mail_user, security):
    with ImapMailbox(mail_user.settings(security=security)) as mailbox:
        assert [f.name for f in mailbox.list_folders()] == ["INBOX"]
        assert mailbox.client.has_capability("IMAP4REV1")
    assert not mailbox.connected  # socket closed on exit


def test_engine_imap_starttls_really_encrypts(mail_user):
    with ImapMailbox(mail_user.settings(security="starttls")) as mailbox:
        assert mailbox.client.socket().version().startswith("TLS")


def test_engine_imap_wrong_password(mail_user):
    settings = mail_user.settings(password="Wrong-" + mail_user.password)
    with pytest.raises(AuthenticationFailed) as info:
        ImapMailbox(settings).__enter__()
    err = info.value
    assert mail_user.login in str(err)
    assert "rejected the user name or password" in str(err)
    for text in (str(err), repr(err), repr(err.params), err.user_message()):
        assert settings.password not in text
        assert not BYTES_REPR.search(text)
    assert err.__cause__ is not None  # kept for the logs


def test_engine_imap_unknown_host(mail_user):
    settings = mail_user.settings(host="no-such-host.invalid")
    with pytest.raises(HostNotFound) as info:
        ImapMailbox(settings).__enter__()
    assert "no-such-host.invalid" in str(info.value)


def test_engine_imap_refused_port(mail_user, closed_port):
    with pytest.raises(ConnectionRefused) as info:
        ImapMailbox(mail_user.settings(port=closed_port)).__enter__()
    assert str(closed_port) in str(info.value)


def test_engine_imap_untrusted_ca(mail_user):
    settings = mail_user.settings(security="ssl", ca_file=None)
    with pytest.raises(CertificateUntrusted):
        ImapMailbox(settings).__enter__()


def test_engine_imap_starttls_untrusted_ca(mail_user):
    settings = mail_user.settings(security="starttls", ca_file=None)
    with pytest.raises(CertificateUntrusted):
        ImapMailbox(settings).__enter__()


def test_engine_imap_wrong_host_name(mail_user, dovecot):
    settings = mail_user.settings(
        security="ssl", host=dovecot.other_host, port=dovecot.other_imaps_port
    )
    with pytest.raises(CertificateHostMismatch) as info:
        ImapMailbox(settings).__enter__()
    assert dovecot.other_host in str(info.value)


def test_engine_imap_ssl_on_plain_port(mail_user, dovecot):
    settings = mail_user.settings(security="ssl", port=dovecot.imap_port)
    with pytest.raises(TlsNotSpokenOnPort) as info:
        ImapMailbox(settings).__enter__()
    assert "does not speak SSL/TLS" in str(info.value)


def test_engine_imap_starttls_not_offered(plain_user):
    settings = plain_user.settings(security="starttls", ca_file=None)
    with pytest.raises(StartTlsNotOffered):
        ImapMailbox(settings).__enter__()
    # security "none" is the explicit choice that still works
    with ImapMailbox(plain_user.settings(security="none")):
        pass


def test_engine_imap_silent_server_times_out(mail_user, silent_server):
    settings = mail_user.settings(
        port=silent_server, connect_timeout=1.0, read_timeout=1.0
    )
    start = time.monotonic()
    with pytest.raises(ConnectionTimeout) as info:
        ImapMailbox(settings).__enter__()
    assert time.monotonic() - start < 3
    assert "did not answer within 1 seconds" in str(info.value)


# -- folders -------------------------------------------------------------------------

DISCOVERY = {
    "INBOX": "inbox",
    "Sent": "sent",
    "[Gmail]/Sent Mail": "sent",
    "Verzonden items": "sent",
    "Gesendet": "sent",
    "Éléments envoyés": "sent",
    "Drafts": "ignore",
    "Klanten/Acme": "ignore",
}


def test_engine_imap_folder_discovery(mail_user, dovecot):
    for name in DISCOVERY:
        if name != "INBOX":
            dovecot.create_folder(mail_user.login, name)
    with ImapMailbox(mail_user.settings()) as mailbox:
        folders = {f.name: f for f in mailbox.list_folders()}
    for name, role in DISCOVERY.items():
        assert folders[name].role == role, name
        assert folders[name].selectable
        assert folders[name].delimiter == "/"
    assert b"\\Sent" in folders["Sent"].flags
    assert b"\\Drafts" in folders["Drafts"].flags
    assert all(isinstance(flag, bytes) for f in folders.values() for flag in f.flags)


def test_engine_imap_missing_folder(mail_user):
    with ImapMailbox(mail_user.settings()) as mailbox:
        with pytest.raises(FolderNotFound) as info:
            mailbox.sync_folder("Does/Not/Exist")
        assert "Does/Not/Exist" in str(info.value)
        with pytest.raises(FolderNotFound):
            mailbox.append("Nowhere", b"Subject: x\r\n\r\nx\r\n")
        # the session is still usable after a folder error
        assert mailbox.sync_folder("INBOX").exists == 0


# -- sync ----------------------------------------------------------------------------


def _sync(settings, folder, cursor, **options):
    """Run one sync; return (messages, last cursor, uidvalidity_changed, commands)."""
    messages, last, changed = [], cursor, None
    with ImapMailbox(settings) as mailbox:
        sync = mailbox.sync_folder(folder, cursor, **options)
        changed = sync.uidvalidity_changed
        for batch in sync:
            assert batch.uidvalidity_changed == changed
            messages.extend(batch.messages)
            last = batch.cursor
        commands = mailbox.commands_after_login
    return messages, last, changed, commands


def test_engine_imap_sync_incremental(mail_user, new_message):
    settings = mail_user.settings()
    messages, cursor, changed, _ = _sync(settings, "INBOX", None)
    assert messages == [] and not changed
    assert cursor.last_uid == 0 and cursor.uidvalidity > 0  # stored on first sync

    uids = mail_user.deliver_many("INBOX", [new_message(i) for i in range(5)])
    messages, cursor, changed, _ = _sync(settings, "INBOX", cursor)
    assert [m.uid for m in messages] == uids
    assert cursor == Cursor(messages[0].uidvalidity, uids[-1])
    first = messages[0]
    assert first.folder == "INBOX" and not first.oversize
    assert first.raw.startswith(b"From: alice@example.com") and b"Hello 0" in first.raw
    assert first.size == len(first.raw)
    assert first.internal_date is not None

    more = mail_user.deliver_many("INBOX", [new_message(i) for i in range(5, 8)])
    messages, cursor2, _, _ = _sync(settings, "INBOX", cursor)
    assert [m.uid for m in messages] == more
    assert cursor2.last_uid == more[-1]

    # nothing new: no batch, cursor unchanged
    messages, cursor3, _, _ = _sync(settings, "INBOX", cursor2)
    assert messages == [] and cursor3 == cursor2


def test_engine_imap_flags_unchanged_and_seen_fetched(mail_user, dovecot, new_message):
    variants = [
        (),
        (b"\\Seen",),
        (b"\\Flagged",),
        (b"\\Answered", b"\\Seen"),
        (b"$Label1", b"\\Draft"),
    ]
    uids = []
    for i, flags in enumerate(variants):
        uids += mail_user.deliver_many("INBOX", [new_message(i)], flags=flags)
    before = {uid: dovecot.flags(mail_user.login, "INBOX", uid) for uid in uids}
    assert b"\\Seen" not in before[uids[0]] and b"\\Seen" in before[uids[1]]

    messages, _, _, _ = _sync(mail_user.settings(), "INBOX", None)
    assert [m.uid for m in messages] == uids  # \Seen mail is fetched too
    assert all(m.raw for m in messages)
    assert b"\\Seen" in messages[1].flags

    after = {uid: dovecot.flags(mail_user.login, "INBOX", uid) for uid in uids}
    assert after == before


def test_engine_imap_uidvalidity_change(mail_user, dovecot, new_message):
    settings = mail_user.settings()
    uids = mail_user.deliver_many("INBOX", [new_message(i) for i in range(3)])
    messages, cursor, _, _ = _sync(settings, "INBOX", None)
    assert len(messages) == 3

    new_validity = dovecot.reset_uidvalidity(mail_user.login, "INBOX")
    messages, cursor2, changed, _ = _sync(settings, "INBOX", cursor)
    assert changed
    assert cursor2 == Cursor(new_validity, uids[-1])
    assert [m.uid for m in messages] == uids  # full resync from UID 0
    assert {m.uidvalidity for m in messages} == {new_validity}

    # then back to normal
    messages, cursor3, changed, _ = _sync(settings, "INBOX", cursor2)
    assert messages == [] and not changed and cursor3 == cursor2


def test_engine_imap_uidvalidity_change_on_empty_folder_is_reported(mail_user, dovecot):
    dovecot.create_folder(mail_user.login, "Sent")
    settings = mail_user.settings()
    _, cursor, _, _ = _sync(settings, "Sent", None)
    new_validity = dovecot.reset_uidvalidity(mail_user.login, "Sent")
    with ImapMailbox(settings) as mailbox:
        batches = list(mailbox.sync_folder("Sent", cursor))
    assert len(batches) == 1 and batches[0].uidvalidity_changed
    assert batches[0].messages == [] and batches[0].cursor == Cursor(new_validity, 0)


def test_engine_imap_uids_above_2_31(mail_user, dovecot, new_message):
    """UIDVALIDITY and UIDs are unsigned 32-bit numbers: values past 2**31 sync,
    incrementally, and an unchanged folder stays one command."""
    uidvalidity, next_uid = 2**32 - 1, 2**32 - 100
    dovecot.set_uids(mail_user.login, "INBOX", uidvalidity, next_uid)
    settings = mail_user.settings()
    uids = mail_user.deliver_many("INBOX", [new_message(i) for i in range(3)])
    assert uids == [next_uid, next_uid + 1, next_uid + 2]
    messages, cursor, changed, _ = _sync(settings, "INBOX", None)
    assert [m.uid for m in messages] == uids and not changed
    assert cursor == Cursor(uidvalidity, uids[-1])
    more = mail_user.deliver_many("INBOX", [new_message(3)])
    messages, cursor2, changed, _ = _sync(settings, "INBOX", cursor)
    assert [m.uid for m in messages] == more and not changed
    assert cursor2 == Cursor(uidvalidity, more[0])
    messages, cursor3, _, commands = _sync(settings, "INBOX", cursor2)
    assert messages == [] and cursor3 == cursor2 and commands == 1


@pytest.mark.parametrize("count", [10, 300])
def test_engine_imap_idle_folder_round_trips(mail_user, new_message, count):
    settings = mail_user.settings()
    mail_user.deliver_many("INBOX", [new_message(i) for i in range(count)])
    messages, cursor, _, _ = _sync(settings, "INBOX", None, batch_size=500)
    assert len(messages) == count
    messages, _, _, commands = _sync(settings, "INBOX", cursor)
    assert messages == []
    assert commands <= 3
    assert commands == 1  # STATUS only


def test_engine_imap_idle_check_does_not_count_the_folder(mail_user, new_message):
    """The idle check asks what the server keeps in its index (UIDNEXT,
    UIDVALIDITY), not MESSAGES, which Dovecot counts on Maildir: 2.5 ms
    instead of 0.3 ms for 10,000 messages."""
    settings = mail_user.settings()
    mail_user.deliver_many("INBOX", [new_message(i) for i in range(3)])
    _, cursor, _, _ = _sync(settings, "INBOX", None)
    asked = []
    with ImapMailbox(settings) as mailbox:
        status = mailbox.client.folder_status

        def recording(folder, what=None):
            asked.append(list(what))
            return status(folder, what)

        mailbox.client.folder_status = recording
        sync = mailbox.sync_folder("INBOX", cursor)
        assert not sync.has_new and sync.exists is None
        assert list(sync) == []
    assert asked == [[b"UIDNEXT", b"UIDVALIDITY"]]


def test_engine_imap_expunged_gap_is_skipped(mail_user, dovecot, new_message):
    settings = mail_user.settings()
    mail_user.deliver_many("INBOX", [new_message(i) for i in range(2)])
    _, cursor, _, _ = _sync(settings, "INBOX", None)
    gone = mail_user.deliver_many("INBOX", [new_message(i) for i in range(2, 4)])
    with dovecot.imap(mail_user.login) as client:  # another client deletes them
        client.select_folder("INBOX")
        client.delete_messages(gone)
        client.expunge()
    messages, cursor2, _, commands = _sync(settings, "INBOX", cursor)
    # STATUS sees UIDNEXT moved, EXAMINE + UID SEARCH find nothing left.
    assert messages == [] and cursor2.last_uid == gone[-1] and commands == 3
    _, cursor3, _, commands = _sync(settings, "INBOX", cursor2)
    assert cursor3 == cursor2 and commands == 1


def test_engine_imap_batches_bounded(mail_user, new_message):
    uids = mail_user.deliver_many("INBOX", [new_message(i) for i in range(30)])
    with ImapMailbox(mail_user.settings()) as mailbox:
        sizes, seen = [], []
        for batch in mailbox.sync_folder("INBOX", None, batch_size=7):
            sizes.append(len(batch.messages))
            seen += [m.uid for m in batch.messages]
            assert batch.cursor.last_uid == seen[-1]
    assert max(sizes) <= 7 and sum(sizes) == 30
    assert seen == uids


def test_engine_imap_batch_bytes_bounded(mail_user, new_message):
    mail_user.deliver_many("INBOX", [new_message(i, size=3000) for i in range(10)])
    with ImapMailbox(mail_user.settings()) as mailbox:
        batches = list(mailbox.sync_folder("INBOX", None, batch_bytes=10_000))
    assert sum(len(b.messages) for b in batches) == 10
    for batch in batches:
        assert sum(len(m.raw) for m in batch.messages) <= 10_000


def test_engine_imap_oversize_reported(mail_user, new_message):
    small = mail_user.deliver_many("INBOX", [new_message(1)])
    big = mail_user.deliver_many("INBOX", [new_message(2, size=50_000)])
    messages, cursor, _, _ = _sync(
        mail_user.settings(), "INBOX", None, max_message_size=10_000
    )
    assert [m.uid for m in messages] == small + big
    assert messages[0].raw and not messages[0].oversize
    assert messages[1].raw is None and messages[1].oversize
    assert messages[1].size > 50_000
    assert cursor.last_uid == big[0]
    # what identifies a message whose content is not fetched
    validity = cursor.uidvalidity
    assert messages[1].server_id == "imap:%d:%d:INBOX" % (validity, big[0])
    assert messages[0].server_id != messages[1].server_id


def test_engine_imap_append(mail_user, dovecot, new_message):
    dovecot.create_folder(mail_user.login, "Sent")
    raw = new_message(1, subject="Sent from Odoo")
    with ImapMailbox(mail_user.settings(security="starttls")) as mailbox:
        uid = mailbox.append("Sent", raw)
    assert isinstance(uid, int)
    assert b"\\Seen" in dovecot.flags(mail_user.login, "Sent", uid)
    messages, _, _, _ = _sync(mail_user.settings(), "Sent", None)
    assert [m.uid for m in messages] == [uid]
    assert messages[0].raw == raw


def test_engine_imap_counts_each_completed_command_once(mail_user, new_message):
    """One count per command answered, whatever the answers hold: untagged data,
    continuation requests and message bodies (literals) that look like tagged
    lines are not commands."""
    tagged_look = new_message(1).replace(b"Hello 1", b"A001 OK done\r\n* 2 EXISTS")
    mail_user.deliver_many("INBOX", [tagged_look, new_message(2), new_message(3)])
    with ImapMailbox(mail_user.settings()) as mailbox:
        assert mailbox.login_commands >= 2  # CAPABILITY/STARTTLS/LOGIN ...
        assert mailbox.commands_after_login == 0
        messages = [m for batch in mailbox.sync_folder("INBOX") for m in batch.messages]
        assert len(messages) == 3 and b"A001 OK done" in messages[0].raw
        # EXAMINE, UID SEARCH, UID FETCH of sizes, UID FETCH of the bodies
        assert mailbox.commands_after_login == 4
        mailbox.append("INBOX", new_message(4))  # waits for a "+" continuation
        assert mailbox.commands_after_login == 5


def test_engine_imap_sync_only_examines(mail_user, dovecot, new_message):
    """The sync opens folders read-only: Dovecot keeps \\Recent for others."""
    mail_user.deliver_many("INBOX", [new_message(1)])
    with ImapMailbox(mail_user.settings()) as mailbox:
        sync = mailbox.sync_folder("INBOX")
        list(sync)
        assert mailbox.client._imap.is_readonly

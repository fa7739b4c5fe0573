"""Read-only IMAP access: folder discovery, incremental sync by UID, APPEND.

Nothing here ever changes a message on the server: folders are opened with
EXAMINE (read-only SELECT), bodies are fetched with ``BODY.PEEK[]`` only, and no
STORE, COPY, MOVE, EXPUNGE or DELETE is ever sent.

Usage::

    with ImapMailbox(settings) as mailbox:
        for folder in mailbox.list_folders():
            ...
        sync = mailbox.sync_folder("INBOX", Cursor(uidvalidity, last_uid))
        if sync.uidvalidity_changed:
            ...  # the caller's old UIDs for this folder mean nothing any more
        for batch in sync:
            store(batch.messages)
            save_cursor(batch.cursor)  # in the same transaction as the messages
"""

import dataclasses
import datetime
import imaplib
import logging
import re

from imapclient import IMAPClient, SocketTimeout

from . import oauth
from .connection import EngineSocket, MailboxConnection
from .errors import (
    NetworkError,
    OAuthMechanismNotOffered,
    OAuthTokenRejected,
    PlaintextLoginDisabled,
    StartTlsNotOffered,
    TlsError,
    clean_server_text,
)
from .folders import guess_role

_BROKEN_CONNECTION = (OSError, NetworkError, TlsError, imaplib.IMAP4.abort)
_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]", re.IGNORECASE)


def _params(settings):
    return {"host": settings.host, "port": settings.port, "login": settings.login}


@dataclasses.dataclass(frozen=True)
class Folder:
    """A folder as the server lists it, with the role proposed for it."""

    name: str
    delimiter: str | None
    flags: tuple
    role: str
    selectable: bool


@dataclasses.dataclass(frozen=True)
class Cursor:
    """How far a folder was synced: every UID ``<= last_uid`` has been stored."""

    uidvalidity: int
    last_uid: int


@dataclasses.dataclass(frozen=True)
class FetchedMessage:
    """One message; ``raw`` is None (and ``oversize`` True) past the size limit."""

    folder: str
    uidvalidity: int
    uid: int
    size: int
    internal_date: datetime.datetime | None
    flags: tuple
    raw: bytes | None
    oversize: bool = False

    @property
    def server_id(self):
        """Which message this is on the server: UIDVALIDITY, UID and folder."""
        return "imap:%d:%d:%s" % (self.uidvalidity, self.uid, self.folder)


@dataclasses.dataclass(frozen=True)
class SyncBatch:
    """Messages in UID order and the cursor to store once they are committed."""

    folder: str
    messages: list
    cursor: Cursor
    uidvalidity_changed: bool = False


class FolderSync:
    """Result of :meth:`ImapMailbox.sync_folder`: iterate it to get :class:`SyncBatch`.

    The folder is already opened (EXAMINE), or found idle by STATUS, when this
    object exists, so ``uidvalidity``, ``uidvalidity_changed``, ``exists``
    (``None`` for a folder found idle) and ``has_new`` are known before any
    message is fetched. Iterating fetches lazily, one batch at a time:
    only one batch of bodies is in memory. Batches have at most ``batch_size``
    messages and at most ``batch_bytes`` bytes of bodies (a single larger message
    gets a batch of its own).

    When the cursor must change without new mail (first sync of an empty folder,
    or a changed UIDVALIDITY) one empty batch is yielded, so a caller that only
    loops over the batches still stores the new cursor. An idle folder yields
    nothing and costs the EXAMINE only.
    """

    def __init__(self, mailbox, folder, cursor, select_info, **options):
        self.mailbox = mailbox
        self.folder = folder
        self.previous_cursor = cursor
        self.uidvalidity = int(select_info.get(b"UIDVALIDITY") or 0)
        self.uidnext = select_info.get(b"UIDNEXT")
        # None when the folder was not opened (an idle folder, seen by STATUS)
        exists = select_info.get(b"EXISTS")
        self.exists = None if exists is None else int(exists)
        self.uidvalidity_changed = (
            cursor is not None and cursor.uidvalidity != self.uidvalidity
        )
        last_uid = 0
        if cursor is not None and not self.uidvalidity_changed:
            last_uid = cursor.last_uid
        self.start_cursor = Cursor(self.uidvalidity, last_uid)
        self._options = options
        if self.exists == 0:
            self.has_new = False
        elif self.uidnext is not None:
            self.has_new = int(self.uidnext) > last_uid + 1
        else:
            self.has_new = True  # unknown: the search will tell
        self._started = False

    def __iter__(self):
        if self._started:
            raise RuntimeError("a FolderSync can be iterated only once")
        self._started = True
        return self._batches()

    def _batches(self):
        must_report = self.previous_cursor is None or self.uidvalidity_changed
        yielded = False
        if self.has_new:
            for batch in self.mailbox._fetch_new(self, **self._options):
                yielded = True
                yield batch
        if must_report and not yielded:
            yield SyncBatch(
                folder=self.folder,
                messages=[],
                cursor=self.start_cursor,
                uidvalidity_changed=self.uidvalidity_changed,
            )


class _EngineIMAP4(EngineSocket, imaplib.IMAP4):
    """imaplib connection (see :class:`~.connection.EngineSocket`) that counts
    the commands the server completes.

    RFC 3501 answers every command with one tagged line; untagged data starts
    with ``*``, a continuation request with ``+``, and the rest of a line
    interrupted by a literal follows the :meth:`read` of that literal. So a
    line read here that is none of these completes a command.
    """

    def __init__(self, settings, ssl_context, session):
        self._engine_after_literal = False
        super().__init__(settings, ssl_context, session)

    def readline(self):  # pylint: disable=method-required-super; replaces it
        line = self._engine_reader.readline(self.sock, imaplib._MAXLINE)
        if len(line) > imaplib._MAXLINE:
            raise self.error("got more than %d bytes" % imaplib._MAXLINE)
        if self._engine_after_literal:
            self._engine_after_literal = False
        elif line and line[:1] not in (b"*", b"+"):
            self._engine_session.commands += 1
        return line

    def read(self, size):  # pylint: disable=method-required-super; replaces it
        self._engine_after_literal = True
        return self._engine_reader.read(self.sock, size)


class _EngineIMAPClient(IMAPClient):
    def __init__(self, settings, ssl_context, session):
        self._engine_settings = settings
        self._engine_ssl_context = ssl_context
        self._engine_session = session
        super().__init__(
            settings.host,
            port=settings.port,
            ssl=ssl_context is not None,
            ssl_context=ssl_context,
            timeout=SocketTimeout(
                connect=settings.connect_timeout, read=settings.read_timeout
            ),
        )

    def _create_IMAP4(self):
        return _EngineIMAP4(
            self._engine_settings, self._engine_ssl_context, self._engine_session
        )

    # ``idle_check`` polls the socket before reading: lines already in the
    # reader's buffer must count as readable, or they wait for the next packet.
    def _poll_socket(self, sock, timeout=None):
        if self._imap._engine_reader.buffered:
            return True
        return super()._poll_socket(sock, timeout)

    def _select_poll_socket(self, sock, timeout=None):
        if self._imap._engine_reader.buffered:
            return True
        return super()._select_poll_socket(sock, timeout)


class ImapMailbox(MailboxConnection):
    """A logged-in IMAP session; use as a context manager.

    ``__enter__`` connects, secures (SSL or STARTTLS as configured) and logs in;
    ``__exit__`` logs out (unless the connection broke) and always closes the
    socket. Every failure is raised as a :class:`~.errors.MailError`.
    ``commands`` counts the IMAP commands the server completed (round trips)
    since the connection was opened; ``commands_after_login`` excludes the ones
    needed to connect and log in.
    """

    protocol = "imap"
    label = "IMAP"

    def __init__(self, settings):
        super().__init__(settings)
        self._selected = None  # the folder opened by the last EXAMINE
        self.login_commands = 0
        self.capabilities = ()

    # -- connection ------------------------------------------------------------------

    @property
    def commands(self):
        return self._session.commands

    @property
    def commands_after_login(self):
        return self.commands - self.login_commands

    @property
    def client(self):
        """The logged-in ``IMAPClient``; ``RuntimeError`` when not connected."""
        return self._require_connection()

    def _open(self, ssl_context, session):
        client = _EngineIMAPClient(self.settings, ssl_context, session)
        if not logging.getLogger("imapclient.imaplib").isEnabledFor(logging.DEBUG):
            # imapclient sets imaplib's debug level 5: every line is formatted
            # for a logger nobody listens to.
            client._imap.debug = 0
        return client

    def _log_in(self, ssl_context):
        settings = self.settings
        client = self._connection
        if settings.security == "starttls":
            if not client.has_capability("STARTTLS"):
                raise StartTlsNotOffered(
                    host=settings.host, port=settings.port, login=settings.login
                )
            client.starttls(ssl_context)
        elif settings.security == "none" and client.has_capability("LOGINDISABLED"):
            raise PlaintextLoginDisabled(host=settings.host, login=settings.login)
        if settings.auth == "oauth2":
            self._oauth_log_in(client)
        else:
            client.login(settings.login, settings.password)
        self.capabilities = tuple(client.capabilities())
        self.login_commands = self.commands

    def _oauth_log_in(self, client):
        """SASL XOAUTH2 (else OAUTHBEARER) with the access token; a refusal
        raises :class:`~.errors.OAuthTokenRejected` with the server's error
        challenge, which imaplib would otherwise answer and forget."""
        settings = self.settings
        offered = {
            c.decode("ascii", "replace").upper()[5:]
            for c in client.capabilities()
            if c.upper().startswith(b"AUTH=")
        }
        mechanism = oauth.choose_mechanism(offered)
        if mechanism is None:
            raise OAuthMechanismNotOffered(**_params(settings))
        challenges = []

        def respond(challenge):
            if challenge:  # the error status, before the tagged NO
                challenges.append(challenge)
                return oauth.sasl_abort_response(mechanism)
            return oauth.sasl_response(mechanism, settings.login, settings.access_token)

        try:
            client._imap.authenticate(mechanism, respond)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as exc:
            hidden = (settings.access_token,)
            detail = clean_server_text(exc, hidden)
            if challenges:
                status = oauth.challenge_detail(challenges[-1], hidden)
                detail = "%s; %s" % (status, detail)
            raise OAuthTokenRejected(**_params(settings), detail=detail) from exc

    def _say_goodbye(self, connection):
        connection.logout()

    def _hard_close(self, connection):
        connection.shutdown()

    def _goodbye_on_exit(self, exc):
        # After a network failure a LOGOUT would only wait for another timeout.
        return exc is None or not isinstance(exc, _BROKEN_CONNECTION)

    def close(self, logout=True):
        """Log out (unless ``logout`` is False) and close the socket, never raising."""
        self._disconnect(goodbye=logout)

    # -- folders ---------------------------------------------------------------------

    def list_folders(self):
        """Every folder with delimiter, flags and proposed role, in server order.

        Uses ``LIST "" "*" RETURN (SPECIAL-USE)`` when the server has SPECIAL-USE
        (RFC 6154), else XLIST when offered, else a plain LIST.
        """
        client = self.client
        if client.has_capability("SPECIAL-USE") and client.has_capability(
            "LIST-EXTENDED"
        ):
            entries = self._call(self._list_special_use)
        elif client.has_capability("XLIST") and not client.has_capability(
            "SPECIAL-USE"
        ):
            entries = self._call(client.xlist_folders)
        else:
            entries = self._call(client.list_folders)
        folders = []
        for flags, delimiter, name in entries:
            flags = tuple(flags or ())
            if isinstance(delimiter, bytes):
                delimiter = delimiter.decode("ascii", "replace")
            upper = {f.upper() for f in flags}
            selectable = not ({b"\\NOSELECT", b"\\NONEXISTENT"} & upper)
            folders.append(
                Folder(
                    name=name,
                    delimiter=delimiter,
                    flags=flags,
                    role=guess_role(name, flags, delimiter),
                    selectable=selectable,
                )
            )
        return folders

    def _list_special_use(self):
        client = self.client
        imap = client._imap
        typ, data = imap._simple_command("LIST", b'""', b'"*"', b"RETURN (SPECIAL-USE)")
        client._checkok("list", typ, data)
        typ, data = imap._untagged_response(typ, data, "LIST")
        return client._proc_folder_list(data)

    def _status(self, folder):
        # Not MESSAGES: a server may count the folder for it (Dovecot on
        # Maildir takes 2.5 ms for 10,000 messages, UIDNEXT 0.3 ms).
        return self._call(
            self.client.folder_status,
            folder,
            [b"UIDNEXT", b"UIDVALIDITY"],
            folder=folder,
        )

    def _examine(self, folder):
        return self._call(
            self.client.select_folder, folder, readonly=True, folder=folder
        )

    # -- sync ------------------------------------------------------------------------

    def sync_folder(
        self,
        folder,
        cursor=None,
        batch_size=100,
        batch_bytes=20_000_000,
        max_message_size=None,
    ):
        """Open ``folder`` read-only and return a :class:`FolderSync` of new mail.

        ``folder`` is a name or a :class:`Folder`; ``cursor`` a :class:`Cursor`
        or None for a first sync. Messages come in ascending UID order, each with
        ``BODY.PEEK[]`` (flags are never changed), size, INTERNALDATE and flags.
        A message larger than ``max_message_size`` comes with ``raw=None`` and
        ``oversize=True``. With a cursor, an idle folder costs one STATUS, which
        the server answers from its index whatever the folder's size; the
        folder is opened (EXAMINE) only when there is something to fetch.
        """
        if isinstance(folder, Folder):
            folder = folder.name
        if batch_size < 1 or batch_bytes < 1:
            raise ValueError("batch_size and batch_bytes must be positive")
        info = None
        if cursor is not None and folder != self._selected:
            # STATUS is not meant for the selected folder (RFC 3501 6.3.10).
            status = self._status(folder)
            if (
                int(status.get(b"UIDVALIDITY") or 0) == cursor.uidvalidity
                and status.get(b"UIDNEXT") is not None
                and int(status[b"UIDNEXT"]) <= cursor.last_uid + 1
            ):
                info = {
                    b"UIDVALIDITY": status[b"UIDVALIDITY"],
                    b"UIDNEXT": status[b"UIDNEXT"],
                }
        if info is None:
            info = self._examine(folder)
            self._selected = folder
        return FolderSync(
            self,
            folder,
            cursor,
            info,
            batch_size=batch_size,
            batch_bytes=batch_bytes,
            max_message_size=max_message_size,
        )

    def _fetch_new(self, sync, batch_size, batch_bytes, max_message_size):
        client = self.client
        folder = sync.folder
        last_uid = sync.start_cursor.last_uid
        uids = self._call(
            client.search, [b"UID", b"%d:*" % (last_uid + 1)], folder=folder
        )
        # "n:*" always matches the highest UID, even when it is below n.
        uids = sorted(uid for uid in uids if uid > last_uid)
        if not uids and sync.uidnext and int(sync.uidnext) - 1 > last_uid:
            # Everything between the cursor and UIDNEXT was expunged: UIDs are
            # never reused, so skip the gap instead of searching it every time.
            yield self._batch(sync, [], Cursor(sync.uidvalidity, int(sync.uidnext) - 1))
            return
        cursor = sync.start_cursor
        for start in range(0, len(uids), batch_size):
            chunk = uids[start : start + batch_size]
            meta = self._call(
                client.fetch,
                chunk,
                [b"RFC822.SIZE", b"INTERNALDATE", b"FLAGS"],
                folder=folder,
            )
            group, group_bytes = [], 0
            for uid in chunk:
                item = meta.get(uid)
                if item is None:  # expunged meanwhile: nothing to fetch
                    continue
                size = int(item.get(b"RFC822.SIZE") or 0)
                wanted = max_message_size is None or size <= max_message_size
                cost = size if wanted else 0
                if group and group_bytes + cost > batch_bytes:
                    messages = self._fetch_bodies(sync, group)
                    cursor = Cursor(sync.uidvalidity, group[-1][0])
                    yield self._batch(sync, messages, cursor)
                    group, group_bytes = [], 0
                group.append((uid, size, item, wanted))
                group_bytes += cost
            messages = self._fetch_bodies(sync, group) if group else []
            cursor = Cursor(sync.uidvalidity, chunk[-1])
            yield self._batch(sync, messages, cursor)

    def _batch(self, sync, messages, cursor):
        return SyncBatch(
            folder=sync.folder,
            messages=messages,
            cursor=cursor,
            uidvalidity_changed=sync.uidvalidity_changed,
        )

    def _fetch_bodies(self, sync, group):
        wanted = [uid for uid, _size, _item, ok in group if ok]
        bodies = {}
        if wanted:
            bodies = self._call(
                self.client.fetch, wanted, [b"BODY.PEEK[]"], folder=sync.folder
            )
        messages = []
        for uid, size, item, ok in group:
            raw = None
            if ok:
                body = bodies.get(uid)
                if body is None:  # expunged between the two fetches
                    continue
                raw = body.get(b"BODY[]")
                if raw is None:
                    continue
            messages.append(
                FetchedMessage(
                    folder=sync.folder,
                    uidvalidity=sync.uidvalidity,
                    uid=uid,
                    size=size,
                    internal_date=item.get(b"INTERNALDATE"),
                    flags=tuple(item.get(b"FLAGS") or ()),
                    raw=raw,
                    oversize=not ok,
                )
            )
        return messages

    # -- append ----------------------------------------------------------------------

    def append(self, folder, raw, flags=(b"\\Seen",), msg_time=None):
        """APPEND ``raw`` to ``folder``; returns its UID when the server says it
        (UIDPLUS ``APPENDUID``), else None."""
        if isinstance(folder, Folder):
            folder = folder.name
        response = self._call(
            self.client.append,
            folder,
            raw,
            flags=flags,
            msg_time=msg_time,
            folder=folder,
        )
        if isinstance(response, str):
            response = response.encode("utf-8", "replace")
        match = _APPENDUID.search(response or b"")
        return int(match.group(2)) if match else None

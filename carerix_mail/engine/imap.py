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
import socket

from imapclient import IMAPClient, SocketTimeout

from .deadline import DeadlineReader
from .errors import (
    MailError,
    NetworkError,
    PlaintextLoginDisabled,
    StartTlsNotOffered,
    TlsError,
    translate_exception,
)
from .folders import guess_role

_logger = logging.getLogger(__name__)

_BROKEN_CONNECTION = (OSError, NetworkError, TlsError, imaplib.IMAP4.abort)
_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]", re.IGNORECASE)


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


class _Phase:
    """Tells a connect timeout from a server that does not answer."""

    def __init__(self):
        self.value = "connect"


class _EngineIMAP4(imaplib.IMAP4):
    """imaplib connection with a connect timeout, then a read timeout, and TLS.

    Each line or literal has a deadline (:mod:`.deadline`), so a server
    sending one byte at a time is aborted like a silent one.
    """

    def __init__(self, host, port, timeouts, ssl_context, phase):
        self._engine_timeouts = timeouts
        self._engine_ssl_context = ssl_context
        self._engine_phase = phase
        self._engine_reader = DeadlineReader(timeouts.read)
        super().__init__(host, port, timeout=timeouts.connect)

    def readline(self):  # pylint: disable=method-required-super; replaces it
        line = self._engine_reader.readline(self.sock, imaplib._MAXLINE)
        if len(line) > imaplib._MAXLINE:
            raise self.error("got more than %d bytes" % imaplib._MAXLINE)
        return line

    def read(self, size):  # pylint: disable=method-required-super; replaces it
        return self._engine_reader.read(self.sock, size)

    def _create_socket(self, timeout=None):
        sock = socket.create_connection((self.host, self.port), timeout)
        self._engine_phase.value = "read"
        try:
            sock.settimeout(self._engine_timeouts.read)
            if self._engine_ssl_context is not None:
                sock = self._engine_ssl_context.wrap_socket(
                    sock, server_hostname=self.host
                )
        except BaseException:
            sock.close()
            raise
        return sock


class _EngineIMAPClient(IMAPClient):
    def __init__(self, settings, ssl_context, phase):
        self._engine_phase = phase
        self._engine_ssl_context = ssl_context
        super().__init__(
            settings.host,
            port=settings.port,
            ssl=settings.security == "ssl",
            ssl_context=ssl_context,
            timeout=SocketTimeout(
                connect=settings.connect_timeout, read=settings.read_timeout
            ),
        )

    def _create_IMAP4(self):
        return _EngineIMAP4(
            self.host,
            self.port,
            self._timeout,
            self._engine_ssl_context if self.ssl else None,
            self._engine_phase,
        )


class ImapMailbox:
    """A logged-in IMAP session; use as a context manager.

    ``__enter__`` connects, secures (SSL or STARTTLS as configured) and logs in;
    ``__exit__`` logs out and always closes the socket. Every failure is raised
    as a :class:`~.errors.MailError`. ``commands`` counts the IMAP commands sent
    (round trips) since the connection was opened; ``commands_after_login``
    excludes the ones needed to connect and log in.
    """

    def __init__(self, settings):
        if settings.protocol != "imap":
            raise ValueError("ImapMailbox needs protocol 'imap'")
        self.settings = settings
        self._client = None
        self._selected = None  # the folder opened by the last EXAMINE
        self._phase = _Phase()
        self.commands = 0
        self.login_commands = 0
        self.capabilities = ()

    # -- connection ------------------------------------------------------------------

    def __enter__(self):
        self.connect()
        return self

    def __exit__(self, exc_type, exc, tb):
        # After a network failure a LOGOUT would only wait for another timeout.
        self.close(logout=exc is None or not isinstance(exc, _BROKEN_CONNECTION))
        return False

    @property
    def commands_after_login(self):
        return self.commands - self.login_commands

    def _translate(self, exc, folder=None):
        return translate_exception(
            exc, self.settings, phase=self._phase.value, folder=folder
        )

    def connect(self):
        settings = self.settings
        self._phase = _Phase()
        context = None
        if settings.security in ("ssl", "starttls"):
            context = settings.ssl_context()
        try:
            self._client = _EngineIMAPClient(settings, context, self._phase)
            self._count_commands()
            if not logging.getLogger("imapclient.imaplib").isEnabledFor(logging.DEBUG):
                # imapclient sets imaplib's debug level 5: every line is formatted
                # for a logger nobody listens to.
                self._client._imap.debug = 0
            if settings.security == "starttls":
                if not self._client.has_capability("STARTTLS"):
                    raise StartTlsNotOffered(
                        host=settings.host, port=settings.port, login=settings.login
                    )
                self._client.starttls(context)
            elif settings.security == "none" and self._client.has_capability(
                "LOGINDISABLED"
            ):
                raise PlaintextLoginDisabled(host=settings.host, login=settings.login)
            self._client.login(settings.login, settings.password)
            self.capabilities = tuple(self._client.capabilities())
        except MailError:
            self._abort()
            raise
        except BaseException as exc:
            self._abort()
            if isinstance(exc, Exception):
                raise self._translate(exc) from exc
            raise
        self.login_commands = self.commands
        _logger.debug(
            "IMAP %s@%s:%s logged in (%s)",
            settings.login,
            settings.host,
            settings.port,
            settings.security,
        )
        return self

    def _count_commands(self):
        imap = self._client._imap
        new_tag = imap._new_tag

        def counting_new_tag():
            self.commands += 1
            return new_tag()

        imap._new_tag = counting_new_tag

    def _abort(self):
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.shutdown()
        except Exception:  # the socket may be half-open or already closed
            _logger.debug("IMAP shutdown failed", exc_info=True)

    def close(self, logout=True):
        """Log out (unless ``logout`` is False) and close the socket, never raising."""
        client = self._client
        if client is None:
            return
        if logout:
            try:
                client.logout()
                self._client = None
                return
            except Exception:
                _logger.debug("IMAP logout failed", exc_info=True)
        self._abort()

    @property
    def client(self):
        if self._client is None:
            raise RuntimeError("the mailbox is not connected")
        return self._client

    # -- folders ---------------------------------------------------------------------

    def list_folders(self):
        """Every folder with delimiter, flags and proposed role, in server order.

        Uses ``LIST "" "*" RETURN (SPECIAL-USE)`` when the server has SPECIAL-USE
        (RFC 6154), else XLIST when offered, else a plain LIST.
        """
        client = self.client
        try:
            if client.has_capability("SPECIAL-USE") and client.has_capability(
                "LIST-EXTENDED"
            ):
                entries = self._list_special_use()
            elif client.has_capability("XLIST") and not client.has_capability(
                "SPECIAL-USE"
            ):
                entries = client.xlist_folders()
            else:
                entries = client.list_folders()
        except MailError:
            raise
        except Exception as exc:
            raise self._translate(exc) from exc
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
        try:
            # Not MESSAGES: a server may count the folder for it (Dovecot on
            # Maildir takes 2.5 ms for 10,000 messages, UIDNEXT 0.3 ms).
            return self.client.folder_status(folder, [b"UIDNEXT", b"UIDVALIDITY"])
        except Exception as exc:
            raise self._translate(exc, folder=folder) from exc

    def _examine(self, folder):
        try:
            return self.client.select_folder(folder, readonly=True)
        except Exception as exc:
            raise self._translate(exc, folder=folder) from exc

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
        try:
            uids = client.search([b"UID", b"%d:*" % (last_uid + 1)])
        except Exception as exc:
            raise self._translate(exc, folder=folder) from exc
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
            try:
                meta = client.fetch(chunk, [b"RFC822.SIZE", b"INTERNALDATE", b"FLAGS"])
            except Exception as exc:
                raise self._translate(exc, folder=folder) from exc
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
            try:
                bodies = self.client.fetch(wanted, [b"BODY.PEEK[]"])
            except Exception as exc:
                raise self._translate(exc, folder=sync.folder) from exc
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
        try:
            response = self.client.append(folder, raw, flags=flags, msg_time=msg_time)
        except Exception as exc:
            raise self._translate(exc, folder=folder) from exc
        if isinstance(response, str):
            response = response.encode("utf-8", "replace")
        match = _APPENDUID.search(response or b"")
        return int(match.group(2)) if match else None

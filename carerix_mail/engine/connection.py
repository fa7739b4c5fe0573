"""What an IMAP and a POP3 session share: the socket, its timeouts and TLS, the
mapping of every failure to a :class:`~.errors.MailError`, and the life cycle
(connect and log in, say goodbye or just close, refuse use when not connected).

:class:`EngineSocket` is mixed into the standard library's protocol classes
(``imaplib.IMAP4``, ``poplib.POP3``); :class:`MailboxConnection` is the base of
:class:`~.imap.ImapMailbox` and :class:`~.pop3.Pop3Mailbox`.
"""

import logging
import socket

from .deadline import DeadlineReader
from .errors import MailError, translate_exception

_logger = logging.getLogger(__name__)


class Session:
    """State of one connection, updated by its socket layer.

    ``phase`` is ``"connect"`` until the TCP connection stands, then ``"read"``:
    it tells a connect timeout from a server that does not answer.
    ``commands`` counts the commands the server has completed (IMAP only).
    """

    def __init__(self):
        self.phase = "connect"
        self.commands = 0


class EngineSocket:
    """Mixin for ``imaplib.IMAP4`` and ``poplib.POP3``: a connect timeout for the
    TCP connection, then the read timeout, TLS from the first byte when an SSL
    context is given, and a :class:`~.deadline.DeadlineReader` for the protocol's
    line and block reads (a server trickling bytes is aborted like a silent one).
    """

    def __init__(self, settings, ssl_context, session):
        self._engine_settings = settings
        self._engine_ssl_context = ssl_context
        self._engine_session = session
        self._engine_reader = DeadlineReader(settings.read_timeout)
        super().__init__(settings.host, settings.port, timeout=settings.connect_timeout)

    def _create_socket(self, timeout=None):
        sock = socket.create_connection((self.host, self.port), timeout)
        self._engine_session.phase = "read"
        try:
            sock.settimeout(self._engine_settings.read_timeout)
            if self._engine_ssl_context is not None:
                sock = self._engine_ssl_context.wrap_socket(
                    sock, server_hostname=self.host
                )
                self._tls_established = True
        except BaseException:
            sock.close()
            raise
        return sock


class MailboxConnection:
    """A logged-in session with a mail server; use as a context manager.

    ``__enter__`` connects, secures (SSL/TLS, or STARTTLS as configured) and logs
    in; ``__exit__`` says goodbye when :meth:`_goodbye_on_exit` allows it and
    always closes the socket. Every failure is raised as a
    :class:`~.errors.MailError`.

    A protocol defines ``protocol`` and ``label``, :meth:`_open` (the connected
    protocol object), :meth:`_log_in`, :meth:`_say_goodbye` and
    :meth:`_hard_close`.
    """

    protocol = None
    label = None

    def __init__(self, settings):
        if settings.protocol != self.protocol:
            raise ValueError(
                "%s needs protocol %r" % (type(self).__name__, self.protocol)
            )
        self.settings = settings
        self._connection = None
        self._session = Session()

    def __enter__(self):
        self.connect()
        return self

    def __exit__(self, exc_type, exc, tb):
        self._disconnect(goodbye=self._goodbye_on_exit(exc))
        return False

    @property
    def connected(self):
        """True from the opening of the connection until it is closed."""
        return self._connection is not None

    def _require_connection(self):
        """The protocol object; ``RuntimeError`` when not connected."""
        if self._connection is None:
            raise RuntimeError("the mailbox is not connected")
        return self._connection

    def _translate(self, exc, folder=None):
        return translate_exception(
            exc, self.settings, phase=self._session.phase, folder=folder
        )

    def _call(self, function, *args, folder=None, **kwargs):
        """``function(*args, **kwargs)``, any failure raised as a MailError."""
        try:
            return function(*args, **kwargs)
        except MailError:
            raise
        except Exception as exc:
            raise self._translate(exc, folder=folder) from exc

    def connect(self):
        """Connect, secure and log in; on any failure close the socket and
        raise a :class:`~.errors.MailError`."""
        settings = self.settings
        self._session = Session()
        context = None
        if settings.security in ("ssl", "starttls"):
            context = settings.ssl_context()
        try:
            self._connection = self._open(
                context if settings.security == "ssl" else None, self._session
            )
            self._log_in(context)
        except MailError:
            self._disconnect(goodbye=False)
            raise
        except BaseException as exc:
            self._disconnect(goodbye=False)
            if isinstance(exc, Exception):
                raise self._translate(exc) from exc
            raise
        _logger.debug(
            "%s %s@%s:%s logged in (%s)",
            self.label,
            settings.login,
            settings.host,
            settings.port,
            settings.security,
        )
        return self

    def _disconnect(self, goodbye):
        """Say goodbye if ``goodbye`` (falling back to closing), never raising."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if goodbye:
            try:
                self._say_goodbye(connection)
                return
            except Exception:
                _logger.debug("%s goodbye failed", self.label, exc_info=True)
        try:
            self._hard_close(connection)
        except Exception:  # the socket may be half-open or already closed
            _logger.debug("%s close failed", self.label, exc_info=True)

    # -- per protocol ----------------------------------------------------------------

    def _open(self, ssl_context, session):
        """The connected protocol object (``ssl_context`` set for SSL/TLS only)."""
        raise NotImplementedError

    def _log_in(self, ssl_context):
        """Upgrade with STARTTLS when configured, then log in."""
        raise NotImplementedError

    def _say_goodbye(self, connection):
        """End the session politely (LOGOUT, QUIT) and close the socket."""
        raise NotImplementedError

    def _hard_close(self, connection):
        """Close the socket without a word to the server."""
        raise NotImplementedError

    def _goodbye_on_exit(self, exc):
        """Whether ``__exit__`` with ``exc`` (None on success) says goodbye."""
        return exc is None

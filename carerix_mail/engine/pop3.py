"""POP3 access by UIDL: new messages only, deletion only when the caller says so.

Usage::

    with Pop3Mailbox(settings) as mailbox:
        for message in mailbox.new_messages(known_uidls):
            store(message)
        commit()
        mailbox.delete(uidls_to_delete(archived, mailbox.uidls(), keep, days, now))
    # DELE marks are applied by the QUIT sent on a clean exit. When an exception
    # leaves the block the socket is closed without QUIT, so nothing is deleted.
"""

import base64
import binascii
import dataclasses
import datetime
import poplib

from . import oauth
from .connection import EngineSocket, MailboxConnection
from .errors import (
    OAuthMechanismNotOffered,
    OAuthTokenRejected,
    StartTlsNotOffered,
    clean_server_text,
)

# poplib refuses lines over 2048 bytes; real mail (unwrapped HTML) has longer ones.
_MAX_LINE = 1_000_000


@dataclasses.dataclass(frozen=True)
class PopMessage:
    """One message; ``raw`` is None (and ``oversize`` True) past the size limit."""

    uidl: str
    size: int
    raw: bytes | None
    oversize: bool = False
    msgnum: int = 0

    @property
    def server_id(self):
        """Which message this is on the server: its UIDL."""
        return "pop3:%s" % self.uidl


class _EnginePOP3(EngineSocket, poplib.POP3):
    """poplib connection (see :class:`~.connection.EngineSocket`)."""

    def _getline(self):
        # A deadline per line (:mod:`.deadline`): trickling servers are aborted.
        line = self._engine_reader.readline(self.sock, _MAX_LINE)
        if len(line) > _MAX_LINE:
            raise poplib.error_proto("-ERR line too long")
        if not line:
            raise poplib.error_proto("-ERR EOF")
        octets = len(line)
        if line[-2:] == b"\r\n":
            return line[:-2], octets
        if line[:1] == b"\r":
            return line[1:-1], octets
        return line[:-1], octets


def _b64(text):
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _unb64(data):
    try:
        return base64.b64decode(data)
    except binascii.Error:
        return data


def _ascii(value):
    return value.decode("ascii", "replace") if isinstance(value, bytes) else value


class Pop3Mailbox(MailboxConnection):
    """A logged-in POP3 session; use as a context manager.

    ``__enter__`` connects (POP3S, or POP3 upgraded with STLS, or plaintext only
    for security ``none``) and logs in with USER/PASS. ``__exit__`` sends QUIT
    (which applies :meth:`delete` marks) only when no exception is propagating;
    otherwise it just closes the socket and the server deletes nothing.
    """

    protocol = "pop3"
    label = "POP3"

    def __init__(self, settings):
        super().__init__(settings)
        self._listing = None
        self.deleted = []

    @property
    def pop(self):
        """The logged-in ``poplib.POP3``; ``RuntimeError`` when not connected."""
        return self._require_connection()

    def _open(self, ssl_context, session):
        return _EnginePOP3(self.settings, ssl_context, session)

    def _log_in(self, ssl_context):
        settings = self.settings
        pop = self._connection
        if settings.security == "starttls":
            try:
                capabilities = pop.capa()
            except poplib.error_proto:
                capabilities = {}
            if "STLS" not in capabilities:
                raise StartTlsNotOffered(
                    host=settings.host, port=settings.port, login=settings.login
                )
            pop.stls(ssl_context)
        if settings.auth == "oauth2":
            self._oauth_log_in(pop)
        else:
            pop.user(settings.login)
            pop.pass_(settings.password)

    def _oauth_log_in(self, pop):
        """``AUTH XOAUTH2`` in the two-line form Microsoft documents (command,
        ``+``, then the response), or OAUTHBEARER when CAPA offers only that.
        Without a CAPA SASL list XOAUTH2 is tried."""
        settings = self.settings
        params = {"host": settings.host, "port": settings.port, "login": settings.login}
        try:
            offered = {m.upper() for m in pop.capa().get("SASL", ())} or None
        except poplib.error_proto:
            offered = None
        mechanism = oauth.choose_mechanism(offered or {"XOAUTH2"})
        if mechanism is None:
            raise OAuthMechanismNotOffered(**params)
        hidden = (settings.access_token,)
        response = oauth.sasl_response(mechanism, settings.login, settings.access_token)
        try:
            pop._shortcmd("AUTH " + mechanism)
        except poplib.error_proto as exc:
            if offered is None:
                raise OAuthMechanismNotOffered(**params) from exc
            raise
        challenge = None
        try:
            answer = pop._shortcmd(_b64(response))
            if answer.startswith(b"+ "):  # an error challenge; a -ERR follows
                challenge = _unb64(answer[2:])
                pop._shortcmd(_b64(oauth.sasl_abort_response(mechanism)))
        except poplib.error_proto as exc:
            detail = clean_server_text(exc, hidden).removeprefix("-ERR ")
            if challenge is not None:
                detail = "%s; %s" % (oauth.challenge_detail(challenge, hidden), detail)
            raise OAuthTokenRejected(**params, detail=detail) from exc
        if challenge is not None:
            raise OAuthTokenRejected(
                **params, detail=oauth.challenge_detail(challenge, hidden)
            )

    def _say_goodbye(self, connection):
        connection.quit()

    def _hard_close(self, connection):
        connection.close()

    def quit(self):
        """Send QUIT (the server then applies DELE marks) and close, never raising."""
        self._disconnect(goodbye=True)

    def close(self):
        """Close the socket without QUIT: the server deletes nothing."""
        self._disconnect(goodbye=False)

    def _command(self, method, *args):
        return self._call(getattr(self.pop, method), *args)

    def list_uidls(self):
        """``[(msgnum, uidl, size), ...]`` in server order (UIDL + LIST)."""
        _resp, uidl_lines, _octets = self._command("uidl")
        _resp, list_lines, _octets = self._command("list")
        sizes = {}
        for line in list_lines:
            parts = _ascii(line).split()
            if len(parts) >= 2:
                sizes[int(parts[0])] = int(parts[1])
        listing = []
        for line in uidl_lines:
            parts = _ascii(line).split(None, 1)
            if len(parts) == 2:
                num = int(parts[0])
                listing.append((num, parts[1].strip(), sizes.get(num, 0)))
        self._listing = listing
        return list(listing)

    def uidls(self):
        """The UIDLs on the server, in order (listed once per session)."""
        if self._listing is None:
            self.list_uidls()
        return [uidl for _num, uidl, _size in self._listing]

    def new_messages(self, known_uidls, max_message_size=None):
        """Yield :class:`PopMessage` for every UIDL not in ``known_uidls``.

        Server order; one message body in memory at a time. Past
        ``max_message_size`` bytes the message is yielded with ``raw=None`` and
        ``oversize=True`` instead of being downloaded.
        """
        known = set(known_uidls)
        if self._listing is None:
            self.list_uidls()
        for num, uidl, size in list(self._listing):
            if uidl in known:
                continue
            if max_message_size is not None and size > max_message_size:
                yield PopMessage(uidl, size, None, True, num)
                continue
            _resp, lines, _octets = self._command("retr", num)
            raw = b"\r\n".join(lines) + b"\r\n"
            yield PopMessage(uidl, size, raw, False, num)

    def delete(self, uidls):
        """Mark ``uidls`` for deletion (DELE); applied by the QUIT of a clean exit.

        Call it only after the messages are committed. UIDLs not on the server
        are ignored. Returns the UIDLs marked.
        """
        if self._listing is None:
            self.list_uidls()
        numbers = {uidl: num for num, uidl, _size in self._listing}
        marked = []
        for uidl in uidls:
            num = numbers.get(uidl)
            if num is None or uidl in self.deleted:
                continue
            self._command("dele", num)
            self.deleted.append(uidl)
            marked.append(uidl)
        return marked


def uidls_to_delete(archived, present_uidls, keep_copy, remove_after_days, now):
    """Which UIDLs to delete from the server, by policy. Pure: ``now`` is injected.

    ``archived`` maps UIDL -> datetime it was first archived (committed);
    ``present_uidls`` the UIDLs on the server now. Without *keep a copy*, every
    archived message still present is deleted. With *keep a copy* and
    ``remove_after_days`` set, those first archived at least that many days
    before ``now``. Otherwise none. Result in ``present_uidls`` order.
    """
    present = [uidl for uidl in present_uidls if uidl in archived]
    if not keep_copy:
        return present
    if remove_after_days is None:
        return []
    limit = now - datetime.timedelta(days=remove_after_days)
    return [
        uidl
        for uidl in present
        if archived[uidl] is not None and archived[uidl] <= limit
    ]

"""Mail protocols and parsing for carerix_mail; plain Python, never imports odoo."""

from .errors import (
    AuthenticationFailed,
    CertificateAuthorityFileInvalid,
    CertificateError,
    CertificateHostMismatch,
    CertificateUntrusted,
    ConnectionLost,
    ConnectionRefused,
    ConnectionTimeout,
    FolderNotFound,
    HostNotFound,
    MailError,
    MessageTooLarge,
    NetworkError,
    PlaintextLoginDisabled,
    ProtocolError,
    ReadTimeout,
    StartTlsNotOffered,
    TlsError,
    TlsHandshakeFailed,
    TlsNotSpokenOnPort,
    clean_server_text,
    diagnose,
    translate_exception,
)
from .imap import Cursor, FetchedMessage, Folder, FolderSync, ImapMailbox, SyncBatch
from .pop3 import Pop3Mailbox, PopMessage, uidls_to_delete
from .settings import ConnectionSettings, default_port
from .tls import create_ssl_context


def open_mailbox(settings):
    """An :class:`ImapMailbox` or :class:`Pop3Mailbox` for ``settings.protocol``."""
    if settings.protocol == "pop3":
        return Pop3Mailbox(settings)
    return ImapMailbox(settings)


__all__ = [
    "AuthenticationFailed",
    "CertificateAuthorityFileInvalid",
    "CertificateError",
    "CertificateHostMismatch",
    "CertificateUntrusted",
    "ConnectionLost",
    "ConnectionRefused",
    "ConnectionSettings",
    "ConnectionTimeout",
    "Cursor",
    "FetchedMessage",
    "Folder",
    "FolderNotFound",
    "FolderSync",
    "HostNotFound",
    "ImapMailbox",
    "MailError",
    "MessageTooLarge",
    "NetworkError",
    "PlaintextLoginDisabled",
    "Pop3Mailbox",
    "PopMessage",
    "ProtocolError",
    "ReadTimeout",
    "StartTlsNotOffered",
    "SyncBatch",
    "TlsError",
    "TlsHandshakeFailed",
    "TlsNotSpokenOnPort",
    "clean_server_text",
    "create_ssl_context",
    "default_port",
    "diagnose",
    "open_mailbox",
    "translate_exception",
    "uidls_to_delete",
]

"""Connection settings of one mailbox, as a small immutable value object."""

import dataclasses

from .tls import create_ssl_context

PROTOCOLS = ("imap", "pop3", "smtp")
SECURITIES = ("none", "ssl", "starttls")
AUTHS = ("password", "oauth2")

_DEFAULT_PORTS = {
    ("imap", "none"): 143,
    ("imap", "starttls"): 143,
    ("imap", "ssl"): 993,
    ("pop3", "none"): 110,
    ("pop3", "starttls"): 110,
    ("pop3", "ssl"): 995,
    ("smtp", "none"): 587,
    ("smtp", "starttls"): 587,
    ("smtp", "ssl"): 465,
}


def default_port(protocol, security):
    """The usual port for ``protocol`` ("imap"/"pop3"/"smtp") with ``security``."""
    try:
        return _DEFAULT_PORTS[(protocol, security)]
    except KeyError:
        raise ValueError(
            "unknown protocol/security %r/%r" % (protocol, security)
        ) from None


@dataclasses.dataclass(frozen=True)
class ConnectionSettings:
    """Where and how to connect. The password and the access token never appear
    in ``repr``/``str``.

    ``auth``: ``"password"`` (LOGIN / USER+PASS with ``password``) or
    ``"oauth2"`` (SASL XOAUTH2, else OAUTHBEARER, with ``access_token``;
    ``login`` is the mailbox user name, ``password`` is unused).

    ``security``: ``"ssl"`` (TLS from the first byte), ``"starttls"`` (plain
    connection upgraded with STARTTLS/STLS, refused if the server does not offer
    it) or ``"none"`` (plaintext, the only mode that logs in without TLS).
    ``port=None`` means :func:`default_port`.
    """

    host: str
    port: int | None
    login: str
    password: str = dataclasses.field(repr=False)
    protocol: str = "imap"
    security: str = "starttls"
    connect_timeout: float = 15.0
    read_timeout: float = 60.0
    ca_file: str | None = None
    auth: str = "password"
    access_token: str = dataclasses.field(default="", repr=False)

    def __post_init__(self):
        if self.protocol not in PROTOCOLS:
            raise ValueError(
                "protocol must be one of %s, not %r" % (PROTOCOLS, self.protocol)
            )
        if self.auth not in AUTHS:
            raise ValueError("auth must be one of %s, not %r" % (AUTHS, self.auth))
        if self.security not in SECURITIES:
            raise ValueError(
                "security must be one of %s, not %r" % (SECURITIES, self.security)
            )
        if not self.host or not isinstance(self.host, str):
            raise ValueError("host is required")
        if self.port is None:
            object.__setattr__(self, "port", default_port(self.protocol, self.security))
        if not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise ValueError("port must be between 1 and 65535, not %r" % (self.port,))
        for name in ("connect_timeout", "read_timeout"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value <= 0:
                raise ValueError("%s must be a positive number of seconds" % name)
        if self.login is None:
            object.__setattr__(self, "login", "")
        for name in ("password", "access_token"):
            if getattr(self, name) is None:
                object.__setattr__(self, name, "")

    def ssl_context(self):
        """A verifying TLS context (see :func:`.tls.create_ssl_context`)."""
        return create_ssl_context(self.ca_file)

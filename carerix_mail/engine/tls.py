"""TLS contexts: certificate and host name are always verified."""

import ssl

from .errors import CertificateAuthorityFileInvalid


def create_ssl_context(ca_file=None):
    """Return a client context that verifies the certificate and the host name.

    ``ca_file`` (PEM) replaces the system trust store when given, for servers with
    a private certificate authority. There is deliberately no way to turn
    verification off.
    """
    try:
        context = ssl.create_default_context(
            purpose=ssl.Purpose.SERVER_AUTH, cafile=ca_file or None
        )
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None)
        raise CertificateAuthorityFileInvalid(
            ca_file=ca_file, reason=str(reason or type(exc).__name__)
        ) from exc
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    if context.minimum_version < ssl.TLSVersion.TLSv1_2:
        context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context

"""TLS contexts: certificate and host name are always verified."""

import functools
import os
import ssl

from .errors import CertificateAuthorityFileInvalid


def create_ssl_context(ca_file=None):
    """Return a client context that verifies the certificate and the host name.

    ``ca_file`` (PEM) replaces the system trust store when given, for servers with
    a private certificate authority. There is deliberately no way to turn
    verification off.

    Contexts are shared: loading the system trust store costs about 20 ms of
    CPU, once per connection otherwise. A context is made again when the CA
    file changes (its modification time or size). Callers must not change it.
    """
    stamp = None
    if ca_file:
        try:
            info = os.stat(ca_file)
        except OSError as exc:
            raise CertificateAuthorityFileInvalid(
                ca_file=ca_file, reason=exc.strerror or type(exc).__name__
            ) from exc
        stamp = (info.st_mtime_ns, info.st_size)
    return _context(ca_file or None, stamp)


@functools.lru_cache(maxsize=32)
def _context(ca_file, _stamp):
    try:
        context = ssl.create_default_context(
            purpose=ssl.Purpose.SERVER_AUTH, cafile=ca_file
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

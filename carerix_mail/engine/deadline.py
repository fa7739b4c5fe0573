"""Socket reads with a deadline per line or block, for IMAP and POP3.

A socket timeout restarts with every byte received, so a server trickling one
byte a second (a tarpit) would hold a worker forever. Each line or block must
therefore arrive within the read timeout plus one second per
:data:`MIN_READ_RATE` bytes received.

A socket its owner has made non-blocking (imapclient's ``idle_check``, the push
watcher) is left so: a read then takes what has arrived and raises
``BlockingIOError`` (``ssl.SSLWantReadError`` over TLS) when nothing has,
keeping a partial line buffered for the next call.
"""

import time

# After the read timeout, data still arriving must come at this average rate
# (bytes/second) at least.
MIN_READ_RATE = 4096
_CHUNK = 65536
_COMPACT_AT = 1_000_000


class DeadlineReader:
    """Buffered reads from one socket at a time; a new socket (STARTTLS)
    starts with an empty buffer, bytes read before it are never reused."""

    def __init__(self, read_timeout):
        self.read_timeout = read_timeout
        self._sock = None
        self._buffer = bytearray()
        self._pos = 0  # consumed bytes at the head of the buffer

    def _use(self, sock):
        if sock is not self._sock:
            self._sock = sock
            self._buffer = bytearray()
            self._pos = 0

    def _take(self, end):
        data = bytes(self._buffer[self._pos : end])
        self._pos = end
        if self._pos >= _COMPACT_AT or self._pos == len(self._buffer):
            del self._buffer[: self._pos]  # now and then, not per line
            self._pos = 0
        return data

    @property
    def buffered(self):
        """Bytes received and not yet consumed (a poll of the socket cannot
        see them)."""
        return len(self._buffer) - self._pos

    def _receive(self, started):
        if self._sock.gettimeout() == 0:  # non-blocking: never wait here
            data = self._sock.recv(_CHUNK)
            self._buffer += data
            return bool(data)
        pending = len(self._buffer) - self._pos
        remaining = started + self.read_timeout + pending / MIN_READ_RATE
        remaining -= time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the answer arrives too slowly")
        self._sock.settimeout(min(self.read_timeout, remaining))
        data = self._sock.recv(_CHUNK)
        self._buffer += data
        return bool(data)

    def readline(self, sock, limit):
        """One line with its ``\\n``; at EOF what is left (maybe ``b""``).
        Returns more than ``limit`` bytes, unended, when the line is longer:
        the caller raises its protocol's error."""
        self._use(sock)
        started = time.monotonic()
        while True:
            end = self._buffer.find(b"\n", self._pos)
            if end >= 0:
                return self._take(end + 1)
            if len(self._buffer) - self._pos > limit or not self._receive(started):
                return self._take(len(self._buffer))

    def read(self, sock, size):  # pylint: disable=method-required-super
        """``size`` bytes, fewer only at EOF."""
        self._use(sock)
        started = time.monotonic()
        while len(self._buffer) - self._pos < size:
            if not self._receive(started):
                break
        return self._take(min(self._pos + size, len(self._buffer)))

"""BlockingH1: the blocking-socket driver of one HTTP/1.1 connection (an H1Core on a socket).

The sync transport's counterpart of `_protocol.H1Connection`: the same compiled core decides
(parser, phase, reuse, the spec's errors); this driver only sends (one send() that does not
wait, GIL held, then `sendall` for what is left) and reads with `recv_into` straight into the
parser's read buffer, or into the final bytes of a large buffered body. Socket calls that may
wait release the GIL; no event loop or helper thread is involved, but for a streamed request
body, which a worker thread pumps while the caller waits for the response.

A connection is used by one thread at a time (plus its upload thread), except `abort()`, which
any thread may call: it shuts the socket down so a blocked reader wakes at once, and the socket
is closed by the last thread that was using it (never under another thread's system call).
"""

import contextvars
import os
import select
from socket import SHUT_RDWR
import ssl
import threading
import time

from cpqwest._h1 cimport (
    FAILED, IDLE, BodyFramer, H1Core, ReadBuffer, frame_chunk,
)
from cpqwest._parser cimport ResponseParser
from cpqwest._stamps cimport now
from libc.errno cimport errno

from cpqwest._errors import ReadError, WriteError, body_error, write_error

# A bytes body up to this size is joined to the head: one sendall.
cdef Py_ssize_t JOIN_BODY_MAX = 65536

cdef object _monotonic = time.monotonic
cdef object _Lock = threading.Lock
cdef object _Thread = threading.Thread
cdef object _copy_context = contextvars.copy_context
cdef object _SSLError = ssl.SSLError
cdef object _strerror = os.strerror


def close_body(body):
    """Close a request body iterator (a generator another thread runs cannot be closed)."""
    close = getattr(body, "close", None)
    if close is not None:
        try:
            close()
        except Exception:
            pass


cdef class BlockingH1(H1Core):
    """An HTTP/1.1 connection over a blocking socket (TCP, or TLS through `_sync_tls`):
    writes a request, reads the response head and body."""
    cdef readonly object sock
    cdef bint _tls                # sock is TLS: a fresh one's early close is a TLS rejection
    cdef object _lock             # guards error/closed/_busy against abort() from other threads
    cdef int _busy                # threads inside a socket call
    cdef bint _sock_closed
    cdef object _sock_timeout
    cdef object _deadline         # time.monotonic() instant, or None
    cdef object _read_timeout
    cdef object _write_cause      # the peer's reset that ended our write; its answer is read
    cdef int _fd                  # a plain TCP socket's descriptor (for _send), else -1
    cdef object __weakref__

    def __init__(self, sock, key, pool):
        self.sock = sock
        self.key = key
        self.pool = pool
        self._tls = hasattr(sock, "pending_records")
        # (valid while a thread is inside a socket call: the socket closes only when none is)
        self._fd = -1 if self._tls else sock.fileno()
        self._lock = _Lock()
        self._sock_timeout = sock.gettimeout()

    # --- one exchange ------------------------------------------------------------------------
    def start(self, bytes head, body, bint chunked, bint head_request, deadline,
              read_timeout, bint collect=False, Py_ssize_t length=-1):
        """Send a request and read up to the end of its response head; raises the spec's
        errors. `body` goes chunked when `chunked`, else as is (a streamed one must give
        exactly the `length` its head declares, when >= 0); a streamed one is pumped by a
        worker thread, started only now. `collect`: the body will be read whole
        (`read_all`), a large one straight into its bytes."""
        cdef bint streamed
        cdef ResponseParser p = self.parser
        if chunked and (body is None or isinstance(body, bytes)):
            body = (frame_chunk(body) if body else b"") + b"0\r\n\r\n"
        streamed = body is not None and not isinstance(body, bytes)
        self.begin(head_request, collect, streamed)
        self.new_stamps(now())  # response.timings (the transport sets its start)
        self._deadline = deadline
        self._read_timeout = read_timeout
        self._write_cause = None
        try:
            if body is None or streamed:
                self._send(head)
            elif len(<bytes>body) <= JOIN_BODY_MAX:
                self._send(head + body)
            else:
                self._send(head)
                self._send(body)
            if not streamed:
                self.sent()  # (a streamed body's pump marks its own end)
        except BaseException as exc:
            if streamed:
                close_body(body)  # never pulled: the connection failed first
                streamed = False
            if not self._read_after_write_failed(exc):
                raise self._failed(self.head_error(exc)) from None
        if streamed:
            _Thread(target=_copy_context().run, args=(self._upload, body, chunked, length),
                    daemon=True, name="pyqwest-upload").start()
        try:
            while not p.head_done and not p.message_done:
                self._fill()
        except BaseException as exc:
            raise self._failed(self.head_error(exc)) from None

    def read_all(self):
        """The rest of the body, whole (after `start(collect=True)`); raises the spec's
        errors for a buffered read."""
        cdef ResponseParser p = self.parser
        try:
            while not p.message_done:
                if p.direct_pending():
                    p.direct_filled(self._recv(p.direct_window()))
                else:
                    self._fill()  # the last byte, or a body not read directly
        except BaseException as exc:
            raise self._failed(self.head_error(exc)) from None
        return p.take_body()

    def read_chunk(self):
        """The next body piece, None at the end; raises the spec's read errors."""
        cdef ResponseParser p = self.parser
        while True:
            if p.body_size:
                return p.take_body()
            if p.message_done:
                return None
            try:
                self._fill()
            except BaseException as exc:
                raise self._failed(self.read_error(exc)) from None

    cdef bint _read_after_write_failed(self, object exc):
        """A write met the peer's close or reset (`exc`): a server that answers an upload it
        will not read (413) and closes leaves that answer in our socket, and a complete
        response wins over the write failure (as on asyncio, `H1Connection._salvage`). True:
        read on, and report `exc` if the read fails too. Not over TLS, whose session a failed
        write leaves unusable."""
        if self._tls or not isinstance(exc, (BrokenPipeError, ConnectionResetError,
                                             ConnectionAbortedError)):
            return False
        self._write_cause = exc
        self.close_after = True  # the socket is reset: closed with this response, never pooled
        return True

    cdef object _failed(self, object err):
        """Abort with `err`; returns it, to be raised."""
        self.abort(err)
        return err

    # --- socket calls ------------------------------------------------------------------------
    cdef void _enter(self) except *:
        with self._lock:
            if self.error is not None:
                raise self.error
            if self.closed:
                raise ReadError("connection closed")
            self._busy += 1

    cdef object _leave(self):
        """Done with a socket call; the error another thread set meanwhile, if any."""
        cdef bint close_now
        with self._lock:
            self._busy -= 1
            close_now = self.closed and not self._busy and not self._sock_closed
            if close_now:
                self._sock_closed = True
            err = self.error
            if err is None and self.closed:
                err = ReadError("connection closed")
        if close_now:
            self.sock.close()
        return err

    cdef object _time_left(self, bint reading):
        """Seconds the next blocking call may wait (the rule of pyqwest._deadline.time_left:
        up to the deadline, at most read_timeout when reading); TimeoutError past it."""
        cdef double left
        cap = self._read_timeout if reading else None
        if self._deadline is None:
            return cap
        left = <double>self._deadline - <double>_monotonic()
        if left <= 0:
            raise TimeoutError("request timed out")
        return left if cap is None or left < <double>cap else cap

    cdef void _set_timeout(self, timeout) except *:
        if timeout != self._sock_timeout:
            self.sock.settimeout(timeout)
            self._sock_timeout = timeout

    cdef void _send(self, data) except *:
        cdef Py_ssize_t sent = 0
        timeout = self._time_left(False)
        self._enter()
        try:
            if self._fd >= 0 and type(data) is bytes:
                # first a send that does not wait, GIL held: there is almost always room, and
                # sendall would release the GIL (a switch to another thread) and, with a
                # timeout, poll first
                sent = _send_now(self._fd, data)
            if sent < len(data):
                self._set_timeout(timeout)
                self.sock.sendall(memoryview(data)[sent:] if sent else data)
        finally:
            err = self._leave()
        if err is not None:
            raise err

    cdef void _fill(self) except *:
        """One recv_into the read buffer, fed to the core."""
        cdef ReadBuffer buffer = self.read_buffer()
        cdef Py_ssize_t n = self._recv(buffer.view)
        self.feed(buffer.data, n)

    cdef Py_ssize_t _recv(self, view) except -1:
        """One recv_into `view`: the byte count; 0 when the peer's close ended the message
        (a close that truncates it raises)."""
        cdef Py_ssize_t n = -1
        timeout = self._time_left(True)
        cause = None
        self._enter()
        try:
            self._set_timeout(timeout)
            n = self.sock.recv_into(view)
        except TimeoutError:
            cause = TimeoutError(
                "read timed out" if timeout == self._read_timeout else "request timed out")
        except (_SSLError, ConnectionResetError) as exc:
            cause = exc
            if self._tls and not self.reused and not self.got_bytes:
                # TLS 1.3 servers reject a client certificate after our side of the handshake:
                # an alert, or a reset when it overtook the alert
                cause = ConnectionError("TLS connection rejected by the server: %s" % (exc,))
        except OSError as exc:
            cause = exc
        finally:
            err = self._leave()
        if err is not None:
            raise err
        if cause is not None:
            if self._write_cause is not None and not isinstance(cause, TimeoutError):
                raise self._write_cause  # the reset our write met is the failure to report
            raise cause
        if n == 0:
            try:
                self.feed_eof(self._tls)  # raises unless the close ended the message
            except BaseException:
                if self._write_cause is not None:
                    raise self._write_cause from None
                raise
            return 0
        return n

    def _upload(self, body, bint chunked, Py_ssize_t length):
        """Pump a streamed body (on a worker thread); always closes the iterator. A failure
        aborts the connection, which wakes the reader with the WriteError, except the peer's
        reset: the reader goes on to read the answer the peer may have sent first."""
        cdef BodyFramer framer = BodyFramer(chunked, length)
        cdef bint sending = False
        try:
            for chunk in body:
                data = framer.frame(chunk)
                if data is not None:
                    sending = True
                    self._send(data)
                    sending = False
            data = framer.finish()
            if data:
                sending = True
                self._send(data)
            self.sent()
        except BaseException as exc:
            if sending and self._read_after_write_failed(exc):
                return
            if isinstance(exc, WriteError) or self.error is None:
                self.abort(write_error(exc) if sending else body_error(exc))
            # else the connection failed first (reset, response closed): its reader says so
        finally:
            close_body(body)

    # --- end of an exchange --------------------------------------------------------------------
    def release(self):
        """The response is finished with: back to the pool if reusable, else closed."""
        if self.reusable():
            self.phase = IDLE
            self.reused = True  # it served a request: a later failure may be a stale socket
            self.pool.checkin(self)
        else:
            self.close()

    def alive(self):
        """A cheap check on checkout that the idle peer did not close (or write to) us."""
        sock = self.sock
        try:
            fd = sock.fileno()
            if fd < 0:
                return False
            readable = _readable(sock, fd)
            if readable < 0:
                return False  # poll() failed on it
            if not readable:
                return True
        except (OSError, ValueError):
            return False
        # readable: EOF or bytes nobody asked for, unless only TLS records (session tickets)
        return self._tls and sock.pending_records()

    def abort(self, exc=None):
        """Give up on this connection, from any thread: a thread blocked on its socket wakes
        at once (with `exc`); it is never reused."""
        cdef int busy
        cdef bint close_now
        with self._lock:
            if exc is not None:
                self.fail(exc)
            else:
                self.phase = FAILED
            self._count_close(self.error is not None)  # marks it closed, counted once
            busy = self._busy
            close_now = not busy and not self._sock_closed
            if close_now:
                self._sock_closed = True
        if close_now:
            self.sock.close()
        elif busy:
            try:
                self.sock.shutdown(SHUT_RDWR)
            except OSError:
                pass
        self.pool.forget(self)

    cpdef void close(self):
        """Close for good (idle eviction, not reusable, pool closing)."""
        self.abort(None)


cdef extern from *:
    """
    /* Socket calls that never wait, so the GIL can stay held (where there is no poll(), on
       Windows, both say -2 and the caller uses Python's socket API). */
    #ifdef _WIN32
    static int pq_readable_now(int fd) { (void)fd; return -2; }
    static Py_ssize_t pq_send_now(int fd, const char *buf, Py_ssize_t len) {
        (void)fd; (void)buf; (void)len;
        return -2;
    }
    #else
    #include <errno.h>
    #include <poll.h>
    #include <sys/socket.h>
    #ifndef MSG_NOSIGNAL
    #define MSG_NOSIGNAL 0  /* (where there is none, Python ignores SIGPIPE) */
    #endif
    /* Whether `fd` is readable now: 1 or 0, -1 (errno set) on an error. */
    static int pq_readable_now(int fd) {
        struct pollfd p;
        int r;
        p.fd = fd;
        p.events = POLLIN | POLLPRI;
        p.revents = 0;
        do {
            r = poll(&p, 1, 0);
        } while (r < 0 && errno == EINTR);
        return r < 0 ? -1 : r > 0;
    }
    /* One send(): the byte count, -2 when the socket buffer is full, -1 (errno set). */
    static Py_ssize_t pq_send_now(int fd, const char *buf, Py_ssize_t len) {
        ssize_t n;
        do {
            n = send(fd, buf, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL);
        } while (n < 0 && errno == EINTR);
        if (n < 0)
            return (errno == EAGAIN || errno == EWOULDBLOCK) ? -2 : -1;
        return (Py_ssize_t)n;
    }
    #endif
    """
    int pq_readable_now(int fd)
    Py_ssize_t pq_send_now(int fd, const char *buf, Py_ssize_t len)


cdef Py_ssize_t _send_now(int fd, bytes data) except -1:
    """What one send() that does not wait took of `data` (0 if nothing fit); OSError as
    socket.send raises it."""
    cdef Py_ssize_t n = pq_send_now(fd, <const char*>data, len(data))
    if n == -1:
        raise OSError(errno, _strerror(errno))
    return 0 if n == -2 else n


cdef int _readable(sock, int fd) except -2:
    """1 if `sock` is readable now, 0 if not, -1 if poll() failed on it."""
    # poll() with no timeout never blocks, so the GIL stays held: releasing it (as
    # select.poll().poll does) hands it to another thread, a context switch per checkout
    cdef int r = pq_readable_now(fd)
    if r == -2:
        ready, _, _ = select.select([sock], [], [], 0)
        return 1 if ready else 0
    return r

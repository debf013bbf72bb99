# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
# cython: cdivision=True
"""The ingest bridge's decode stage in C: request-event messages in, batch messages out.

``stream.decoder.forward_batch`` (the reference, in Python) validates every message with
``stream.events.parse_event`` and encodes the valid events of each partition as
``requests.batches`` messages (``stream.batches``). :func:`encode_messages` does the same
for the events that look like what producers send, without holding the GIL: it parses the
JSON bytes itself, applies the same checks, and writes the batch rows straight from the
input bytes. Anything it is not sure of (an escape sequence, a non-ASCII byte, an RFC 3339
time, an unusual method, an IPv4-mapped IPv6 address, nested values in an unknown field, a
duplicate field, any error at all) it *declines*: that message goes through the reference
validator, whose answer (a row, or a rejection with its exact message) is used as is. So
this module never rejects anything and never decides differently from the reference; it
only decides faster. ``tests/unit/stream/test_fastdecode.py`` checks both paths give the
same rows and rejections on the simulator's traffic, hand-made edge cases and random
events.

A row holds the ``Request`` fields in order; strings are copied as they came (they hold
no escapes and only printable ASCII, so they need none), numbers as they came (a JSON
integer ``ts`` gets ``.0``, so it decodes as the float the reference would write).
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.bytes cimport PyBytes_CheckExact
from cpython.unicode cimport PyUnicode_1BYTE_DATA, PyUnicode_New

from detectors.events import Request
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memchr, memcmp, memcpy

cdef extern from "<arpa/inet.h>" nogil:
    int inet_pton(int af, const char *src, void *dst)
    const char *inet_ntop(int af, const void *src, char *dst, unsigned int size)

cdef extern from "<sys/socket.h>" nogil:
    int AF_INET
    int AF_INET6

include "jsontext.pxi"

__all__ = ["BATCH_FORMAT_VERSION", "RequestParser", "encode_messages"]

#: The ``requests.batches`` format written (``stream.batches.BATCH_FORMAT_VERSION``).
BATCH_FORMAT_VERSION = 2

# the limits of stream.events (a unit test checks they agree)
DEF MAX_MESSAGE_BYTES = 65536
DEF PATH_CHARS = 8192
DEF ACCOUNT_CHARS = 256
DEF ROUTE_CHARS = 512
DEF AGENT_CHARS = 2048
DEF SESSION_CHARS = 256
DEF REFERER_CHARS = 8192
DEF IP_CHARS = 64
cdef long long TS_MIN = 946684800  # 2000-01-01T00:00:00Z
cdef long long TS_MAX = 4102444800  # 2100-01-01T00:00:00Z

#: every limit above, for that test
LIMITS = {
    "message": MAX_MESSAGE_BYTES,
    "path": PATH_CHARS,
    "account": ACCOUNT_CHARS,
    "route": ROUTE_CHARS,
    "user_agent": AGENT_CHARS,
    "session": SESSION_CHARS,
    "referer": REFERER_CHARS,
    "client_ip": IP_CHARS,
    "ts_min": TS_MIN,
    "ts_max": TS_MAX,
}

# value kinds of the JSON scanner
DEF K_STRING = 1
DEF K_INT = 2
DEF K_FLOAT = 3
DEF K_NULL = 4
DEF K_BOOL = 5

# fields, in Request order
DEF F_TS = 0
DEF F_IP = 1
DEF F_METHOD = 2
DEF F_PATH = 3
DEF F_STATUS = 4
DEF F_ACCOUNT = 5
DEF F_ROUTE = 6
DEF F_BYTES = 7
DEF F_AGENT = 8
DEF F_SESSION = 9
DEF F_REFERER = 10
DEF N_FIELDS = 11

# what became of a message
DEF M_SKIP = 0      # a Kafka error or notice: no data, handled by the caller
DEF M_ROW = 1       # a valid event: its row is in the scratch buffer
DEF M_DECLINED = 2  # for the reference validator
DEF M_REJECTED = 3  # the reference rejected it


cdef extern from *:
    """
    static const char *const sw_methods[9] = {
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};
    static const char *const sw_lower_methods[9] = {
        "get", "head", "post", "put", "delete", "connect", "options", "trace", "patch"};
    static const Py_ssize_t sw_method_lens[9] = {3, 4, 4, 3, 6, 7, 7, 5, 5};
    """
    const char *const sw_methods[9]
    const char *const sw_lower_methods[9]
    const Py_ssize_t sw_method_lens[9]


cdef struct Value:
    const char *p   # string contents (without quotes) or number text
    Py_ssize_t n
    int kind        # 0: absent


cdef struct Buf:
    char *data
    Py_ssize_t size
    Py_ssize_t cap


cdef int buf_reserve(Buf *b, Py_ssize_t extra) noexcept nogil:
    cdef Py_ssize_t cap
    cdef char *data
    if b.size + extra <= b.cap:
        return 0
    cap = b.cap * 2 if b.cap else 65536
    while cap < b.size + extra:
        cap *= 2
    data = <char *>realloc(b.data, cap)
    if data == NULL:
        return -1
    b.data, b.cap = data, cap
    return 0


cdef inline int buf_put(Buf *b, const char *p, Py_ssize_t n) noexcept nogil:
    if buf_reserve(b, n) < 0:
        return -1
    memcpy(b.data + b.size, p, n)
    b.size += n
    return 0


cdef int buf_put_int(Buf *b, long long v) noexcept nogil:
    cdef char tmp[24]
    cdef int i = 24
    cdef bint negative = v < 0
    cdef unsigned long long u = <unsigned long long>(-v if negative else v)
    if u == 0:
        i -= 1
        tmp[i] = b'0'
    while u:
        i -= 1
        tmp[i] = <char>(48 + u % 10)
        u //= 10
    if negative:
        i -= 1
        tmp[i] = b'-'
    return buf_put(b, tmp + i, 24 - i)


cdef inline const char *skip_ws(const char *p, const char *end) noexcept nogil:
    while p < end and (p[0] == b' ' or p[0] == b'\n' or p[0] == b'\r' or p[0] == b'\t'):
        p += 1
    return p


cdef inline bint is_digit(char c) noexcept nogil:
    return b'0' <= c <= b'9'


cdef const char *scan_value(const char *p, const char *end, Value *v) noexcept nogil:
    """Scan one scalar JSON value at ``p``; NULL to decline (anything unusual)."""
    cdef const char *start
    cdef unsigned char c
    if p >= end:
        return NULL
    c = <unsigned char>p[0]
    if c == b'"':
        start = p + 1
        p = <const char *>memchr(start, b'"', end - start)
        # escapes, control characters (invalid JSON) and non-ASCII (UTF-8 to check,
        # characters to count) are the reference's to judge
        if p == NULL or not plain_ascii(start, p - start):
            return NULL
        v.p, v.n, v.kind = start, p - start, K_STRING
        return p + 1
    if c == b'-' or is_digit(<char>c):
        start = p
        v.kind = K_INT
        if c == b'-':
            p += 1
            if p >= end:
                return NULL
        if p[0] == b'0':
            p += 1
        elif is_digit(p[0]):
            while p < end and is_digit(p[0]):
                p += 1
        else:
            return NULL
        if p < end and p[0] == b'.':
            v.kind = K_FLOAT
            p += 1
            if p >= end or not is_digit(p[0]):
                return NULL
            while p < end and is_digit(p[0]):
                p += 1
        if p < end and (p[0] == b'e' or p[0] == b'E'):
            v.kind = K_FLOAT
            p += 1
            if p < end and (p[0] == b'+' or p[0] == b'-'):
                p += 1
            if p >= end or not is_digit(p[0]):
                return NULL
            while p < end and is_digit(p[0]):
                p += 1
        v.p, v.n = start, p - start
        return p
    if end - p >= 4 and memcmp(p, b"null", 4) == 0:
        v.p, v.n, v.kind = p, 4, K_NULL
        return p + 4
    if end - p >= 4 and memcmp(p, b"true", 4) == 0:
        v.p, v.n, v.kind = p, 4, K_BOOL
        return p + 4
    if end - p >= 5 and memcmp(p, b"false", 5) == 0:
        v.p, v.n, v.kind = p, 5, K_BOOL
        return p + 5
    return NULL  # an array, an object, or not JSON


cdef int field_of(const char *k, Py_ssize_t n) noexcept nogil:
    """The field a key names (F_*), or -1 for a key the contract does not know."""
    if n == 2 and k[0] == b't' and k[1] == b's':
        return F_TS
    if n == 4:
        if memcmp(k, b"path", 4) == 0:
            return F_PATH
    elif n == 5:
        if memcmp(k, b"route", 5) == 0:
            return F_ROUTE
        if memcmp(k, b"bytes", 5) == 0:
            return F_BYTES
    elif n == 6:
        if memcmp(k, b"method", 6) == 0:
            return F_METHOD
        if memcmp(k, b"status", 6) == 0:
            return F_STATUS
    elif n == 7:
        if memcmp(k, b"account", 7) == 0:
            return F_ACCOUNT
        if memcmp(k, b"session", 7) == 0:
            return F_SESSION
        if memcmp(k, b"referer", 7) == 0:
            return F_REFERER
    elif n == 9:
        if memcmp(k, b"client_ip", 9) == 0:
            return F_IP
    elif n == 10:
        if memcmp(k, b"user_agent", 10) == 0:
            return F_AGENT
    return -1


cdef bint finite_number(Value *v) noexcept nogil:
    """Whether a number the contract does not read is one its JSON parser takes: orjson
    refuses a literal beyond the double range (it keeps other integers, as floats)."""
    cdef bint ok
    cdef double x
    if v.kind == K_INT:
        return v.n <= 300
    if v.kind == K_FLOAT:
        x = literal_double(v.p, v.n, &ok)
        return ok and -1e300 < x < 1e300  # NaN: False; near the limit: the reference's
    return True


cdef bint scan_object(const char *p, const char *end, Value *fields) noexcept nogil:
    """Fill ``fields`` from one flat JSON object; False to decline."""
    cdef Value key, value
    cdef int f
    cdef Py_ssize_t i
    for i in range(N_FIELDS):
        fields[i].kind = 0
    p = skip_ws(p, end)
    if p >= end or p[0] != b'{':
        return False
    p = skip_ws(p + 1, end)
    if p < end and p[0] == b'}':
        return False  # no fields: the reference names the first one missing
    while True:
        if p >= end or p[0] != b'"':
            return False
        p = scan_value(p, end, &key)
        if p == NULL:
            return False
        p = skip_ws(p, end)
        if p >= end or p[0] != b':':
            return False
        p = skip_ws(p + 1, end)
        p = scan_value(p, end, &value)
        if p == NULL:
            return False
        f = field_of(key.p, key.n)
        if f >= 0:
            if fields[f].kind != 0:
                return False  # a repeated field: JSON parsers disagree on which wins
            fields[f] = value
        elif not finite_number(&value):
            return False
        p = skip_ws(p, end)
        if p >= end:
            return False
        if p[0] == b',':
            p = skip_ws(p + 1, end)
            continue
        if p[0] == b'}':
            break
        return False
    return skip_ws(p + 1, end) == end


cdef long long digits(const char *p, Py_ssize_t n) noexcept nogil:
    """The value of a non-negative JSON integer of at most 18 digits, else -1."""
    cdef long long v = 0
    cdef Py_ssize_t i
    if n < 1 or n > 18 or p[0] == b'-':
        return -1
    for i in range(n):
        v = v * 10 + (p[i] - 48)
    return v


cdef bint optional_string(Value *v, Py_ssize_t limit) noexcept nogil:
    """Whether an optional string field can be copied as is (null and "" become null)."""
    if v.kind == 0 or v.kind == K_NULL:
        return True
    return v.kind == K_STRING and v.n <= limit


cdef int put_optional(Buf *b, Value *v) noexcept nogil:
    if v.kind != K_STRING or v.n == 0:
        return buf_put(b, b",null", 5)
    if buf_put(b, b",\"", 2) < 0 or buf_put(b, v.p, v.n) < 0:
        return -1
    return buf_put(b, b"\"", 1)


cdef struct Event:       # one message's event, validated: spans into it, numbers read
    Value fields[N_FIELDS]
    bint ts_int         # the time came as a JSON integer
    double ts
    long status
    char ip[IP_CHARS + 1]
    Py_ssize_t ip_n     # the canonical client IP (IPv6 rewritten by inet_ntop)
    const char *method  # canonical (upper case)
    Py_ssize_t method_n
    const char *path    # without its query string or fragment
    Py_ssize_t path_n


cdef bint validate(const char *data, Py_ssize_t size, Event *e) noexcept nogil:
    """Whether one message is an event this module judges (and then ``e``): False to
    decline it to the reference."""
    cdef Value *fields = e.fields
    cdef Value *v
    cdef long long n
    cdef double ts
    cdef bint ok
    cdef char canonical[48]
    cdef unsigned char packed[16]
    cdef Py_ssize_t i, m
    cdef char *ip = e.ip
    if size > MAX_MESSAGE_BYTES or not scan_object(data, data + size, fields):
        return 0

    v = &fields[F_TS]
    if v.kind == K_INT:
        n = digits(v.p, v.n)
        if n < TS_MIN or n >= TS_MAX:
            return 0
        e.ts_int, e.ts = True, <double>n
    elif v.kind == K_FLOAT:
        if v.n > 64:
            return 0
        ts = literal_double(v.p, v.n, &ok)
        # a second's margin at both ends: the reference's JSON parser has the last word
        # on a literal that rounds to a limit
        if not ok or not (TS_MIN + 1.0 <= ts < TS_MAX - 1.0):  # NaN: False
            return 0
        e.ts_int, e.ts = False, ts
    else:
        return 0  # an RFC 3339 string, or not a time

    v = &fields[F_IP]
    if v.kind != K_STRING or v.n == 0 or v.n > IP_CHARS:
        return 0
    memcpy(ip, v.p, v.n)
    ip[v.n] = 0
    e.ip_n = v.n
    for i in range(v.n):
        if ip[i] == b':':
            if inet_pton(AF_INET6, ip, packed) != 1:
                return 0  # a zone id, or not an address
            for m in range(10):
                if packed[m] != 0:
                    break
            else:
                return 0  # ::/96 and ::ffff:0:0/96: the reference writes them dotted
            if inet_ntop(AF_INET6, packed, canonical, sizeof(canonical)) == NULL:
                return 0
            e.ip_n = 0
            while canonical[e.ip_n] != 0:
                e.ip_n += 1
            memcpy(ip, canonical, e.ip_n)
            break
    else:
        if inet_pton(AF_INET, ip, packed) != 1:
            return 0

    v = &fields[F_METHOD]
    if v.kind != K_STRING:
        return 0
    for i in range(9):
        if v.n == sw_method_lens[i] and (
            memcmp(v.p, sw_methods[i], v.n) == 0 or memcmp(v.p, sw_lower_methods[i], v.n) == 0
        ):
            e.method, e.method_n = sw_methods[i], sw_method_lens[i]
            break
    else:
        return 0  # any other token: the reference checks and upper-cases it

    v = &fields[F_PATH]
    if v.kind != K_STRING or v.n == 0 or v.n > PATH_CHARS or v.p[0] != b'/':
        return 0
    e.path, e.path_n = v.p, v.n
    for i in range(v.n):  # printable ASCII (0x7f and above are declined by the scanner)
        if v.p[i] == b'?' or v.p[i] == b'#':
            e.path_n = i
            break

    v = &fields[F_STATUS]
    if v.kind != K_INT or v.n != 3:
        return 0
    n = digits(v.p, v.n)
    if n < 100 or n > 599:
        return 0
    e.status = <long>n

    if not (
        optional_string(&fields[F_ACCOUNT], ACCOUNT_CHARS)
        and optional_string(&fields[F_ROUTE], ROUTE_CHARS)
        and optional_string(&fields[F_AGENT], AGENT_CHARS)
        and optional_string(&fields[F_SESSION], SESSION_CHARS)
        and optional_string(&fields[F_REFERER], REFERER_CHARS)
    ):
        return 0
    v = &fields[F_BYTES]
    if v.kind == K_INT:
        if v.p[0] == b'-' or v.n > 19 or (
            v.n == 19 and memcmp(v.p, b"9223372036854775807", 19) > 0
        ):
            return 0
    elif v.kind != 0 and v.kind != K_NULL:
        return 0

    return 1


cdef int encode_row(const char *data, Py_ssize_t size, Buf *out) noexcept nogil:
    """Append the batch row of one message to ``out``: 1 done, 0 declined, -1 no memory."""
    cdef Event e
    cdef Value *fields = e.fields
    cdef Value *v
    if not validate(data, size, &e):
        return 0
    # [ts,"ip","METHOD","path",status,account,route,bytes,user_agent,session,referer]
    v = &fields[F_TS]
    if buf_put(out, b"[", 1) < 0 or buf_put(out, v.p, v.n) < 0:
        return -1
    if e.ts_int and buf_put(out, b".0", 2) < 0:
        return -1
    if (
        buf_put(out, b",\"", 2) < 0
        or buf_put(out, e.ip, e.ip_n) < 0
        or buf_put(out, b"\",\"", 3) < 0
        or buf_put(out, e.method, e.method_n) < 0
        or buf_put(out, b"\",\"", 3) < 0
        or buf_put(out, e.path, e.path_n) < 0
        or buf_put(out, b"\",", 2) < 0
        or buf_put(out, fields[F_STATUS].p, 3) < 0
        or put_optional(out, &fields[F_ACCOUNT]) < 0
        or put_optional(out, &fields[F_ROUTE]) < 0
    ):
        return -1
    v = &fields[F_BYTES]
    if v.kind == K_INT:
        if buf_put(out, b",", 1) < 0 or buf_put(out, v.p, v.n) < 0:
            return -1
    elif buf_put(out, b",null", 5) < 0:
        return -1
    if (
        put_optional(out, &fields[F_AGENT]) < 0
        or put_optional(out, &fields[F_SESSION]) < 0
        or put_optional(out, &fields[F_REFERER]) < 0
        or buf_put(out, b"]", 1) < 0
    ):
        return -1
    return 1


cdef struct Slot:
    const char *data    # the message value (kept alive by the caller's list)
    Py_ssize_t size
    Py_ssize_t start    # its row in the scratch buffer
    Py_ssize_t end
    long long offset
    int part            # index into the partitions seen in this call
    int state           # M_*


def encode_messages(list messages, object reference, Py_ssize_t max_events):
    """Validate a consumed batch and encode its valid events as batch messages.

    ``messages`` are confluent-kafka ``Message`` objects (or anything with their
    ``error``, ``value``, ``partition``, ``offset`` and ``key`` methods); ``reference(value)``
    validates one value the way ``stream.decoder`` does and returns the encoded row
    (``bytes``) or a ``Rejection``. Returns ``(batches, rejected, errors, positions,
    counts)``:

    - ``batches``: ``(partition, value)`` per ``requests.batches`` message, each with at
      most ``max_events`` events, in offset order within a partition;
    - ``rejected``: ``(message, rejection)`` per rejected message;
    - ``errors``: the messages that carried a Kafka error instead of data;
    - ``positions``: partition -> next offset to commit;
    - ``counts``: ``(valid, declined)``, declined being how many the reference judged.
    """
    cdef Py_ssize_t count = len(messages), i, j, k, rows, n_parts
    cdef Slot *slots
    cdef Buf scratch
    cdef Buf out
    cdef int rc = 0
    cdef Py_ssize_t valid = 0, declined = 0
    cdef list values = []
    cdef list rejected = []
    cdef list errors = []
    cdef list batches = []
    cdef dict part_index = {}
    cdef list part_numbers = []
    cdef dict positions = {}
    cdef object value, result, msg, offset
    if max_events < 1:
        raise ValueError(f"max_events must be >= 1, got {max_events}")
    slots = <Slot *>malloc(max(count, 1) * sizeof(Slot))
    if slots == NULL:
        raise MemoryError()
    scratch.data, scratch.size, scratch.cap = NULL, 0, 0
    out.data, out.size, out.cap = NULL, 0, 0
    try:
        # 1. with the GIL: the message fields, and a reference to each value
        for i in range(count):
            msg = messages[i]
            slots[i].state = M_SKIP
            if msg.error() is not None:
                errors.append(msg)
                continue
            partition = msg.partition() or 0
            offset = msg.offset()
            slots[i].offset = -1 if offset is None else offset
            positions[partition] = slots[i].offset + 1
            k = part_index.get(partition, -1)
            if k < 0:
                k = part_index[partition] = len(part_numbers)
                part_numbers.append(partition)
            slots[i].part = <int>k
            value = msg.value()
            if not PyBytes_CheckExact(value):
                slots[i].state = M_DECLINED  # None, or not bytes: the reference says why
                continue
            values.append(value)
            slots[i].data = PyBytes_AS_STRING(value)
            slots[i].size = PyBytes_GET_SIZE(value)
            slots[i].state = M_ROW
        # 2. without the GIL: parse, validate and encode what looks ordinary
        with nogil:
            for i in range(count):
                if slots[i].state != M_ROW:
                    continue
                slots[i].start = scratch.size
                rc = encode_row(slots[i].data, slots[i].size, &scratch)
                if rc < 0:
                    break
                if rc == 0:
                    scratch.size = slots[i].start
                    slots[i].state = M_DECLINED
                else:
                    slots[i].end = scratch.size
        if rc < 0:
            raise MemoryError()
        # 3. with the GIL: the reference judges the rest
        for i in range(count):
            if slots[i].state != M_DECLINED:
                continue
            declined += 1
            msg = messages[i]
            result = reference(msg.value())
            if isinstance(result, bytes):
                slots[i].start = scratch.size
                if buf_put(&scratch, PyBytes_AS_STRING(result), PyBytes_GET_SIZE(result)) < 0:
                    raise MemoryError()
                slots[i].end = scratch.size
                slots[i].state = M_ROW
            else:
                slots[i].state = M_REJECTED
                rejected.append((msg, result))
        # 4. the batch messages, partition by partition, in offset order
        n_parts = len(part_numbers)
        for k in range(n_parts):
            partition = part_numbers[k]
            i = 0
            while i < count:
                out.size = 0
                rows = 0
                if (
                    buf_put(&out, b"[2,", 3) < 0
                    or buf_put_int(&out, partition) < 0
                    or buf_put(&out, b",[", 2) < 0
                ):
                    raise MemoryError()
                j = i
                while j < count and rows < max_events:
                    if slots[j].state == M_ROW and slots[j].part == k:
                        if (rows and buf_put(&out, b",", 1) < 0) or buf_put_int(
                            &out, slots[j].offset
                        ) < 0:
                            raise MemoryError()
                        rows += 1
                    j += 1
                if rows == 0:
                    break
                if buf_put(&out, b"],[", 3) < 0:
                    raise MemoryError()
                rows = 0
                while i < j:
                    if slots[i].state == M_ROW and slots[i].part == k:
                        if (rows and buf_put(&out, b",", 1) < 0) or buf_put(
                            &out, scratch.data + slots[i].start, slots[i].end - slots[i].start
                        ) < 0:
                            raise MemoryError()
                        rows += 1
                    i += 1
                if buf_put(&out, b"]]", 2) < 0:
                    raise MemoryError()
                valid += rows
                batches.append((partition, PyBytes_FromStringAndSize(out.data, out.size)))
    finally:
        free(slots)
        free(scratch.data)
        free(out.data)
    return batches, rejected, errors, positions, (valid, declined)


cdef object ascii_str(const char *p, Py_ssize_t n):
    cdef object s = PyUnicode_New(n, 127)
    memcpy(PyUnicode_1BYTE_DATA(s), p, n)
    return s


cdef object optional_str(Value *v):
    if v.kind != K_STRING or v.n == 0:
        return None
    return ascii_str(v.p, v.n)


cdef object _new_tuple = tuple.__new__
cdef tuple _METHOD_NAMES = ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS",
                            "TRACE", "PATCH")


cdef class RequestParser:
    """``parse_event`` of one message value, by this module where it can: ``reference(raw)``
    judges what it declines (``stream.events.parse_event``), so the answer, a ``Request``
    or a ``Rejection``, is always the reference's. What ``scrapewatch replay`` parses its
    JSON lines with.

    >>> from stream.events import parse_event
    >>> RequestParser(parse_event)(b'{"ts": 1714564800, "client_ip": "10.0.0.1", '
    ...                            b'"method": "get", "path": "/u/7?x=1", "status": 200}')[:4]
    (1714564800.0, '10.0.0.1', 'GET', '/u/7')
    """

    cdef object reference
    cdef dict _methods

    def __init__(self, reference):
        self.reference = reference
        self._methods = {}

    def __call__(self, raw):
        cdef Event e
        cdef Value *v
        cdef unsigned long long size = 0
        cdef Py_ssize_t i
        cdef object nbytes, method
        if not PyBytes_CheckExact(raw) or not validate(
            PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw), &e
        ):
            return self.reference(raw)
        v = &e.fields[F_BYTES]
        if v.kind == K_INT:
            for i in range(v.n):
                size = size * 10 + <unsigned long long>(v.p[i] - 48)
            nbytes = size
        else:
            nbytes = None
        method = None
        for i in range(9):
            if e.method == sw_methods[i]:
                method = _METHOD_NAMES[i]
                break
        return _new_tuple(
            Request,
            (
                e.ts,
                ascii_str(e.ip, e.ip_n),
                method,
                ascii_str(e.path, e.path_n),
                e.status,
                optional_str(&e.fields[F_ACCOUNT]),
                optional_str(&e.fields[F_ROUTE]),
                nbytes,
                optional_str(&e.fields[F_AGENT]),
                optional_str(&e.fields[F_SESSION]),
                optional_str(&e.fields[F_REFERER]),
            ),
        )

# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
# cython: cdivision=True
"""The account agent's ingest in C: a ``requests.batches`` message straight into a stage.

The reference path decodes a batch message with orjson into one list of eleven Python
objects per event (``stream.batches.decode_batch``), then ``AccountStage.ingest`` unpacks
each, templates its path (``Routes.classify``) and folds it into its window
(``AccountStage.fold``). :class:`Ingest` reads the message bytes itself and calls the same
``fold`` for each event, with only the objects a window keeps: each distinct string of the
message made once (the same client IP, account, user agent, method or resource id is one
object, whose hash Python then computes once), paths templated in C and the endpoint
names of a stage made once. It handles the messages the bridge writes; anything else (an
escape sequence or a non-ASCII byte in a string, another format version, a re-delivered
event) it declines *before touching the stage*, and the caller takes the reference path.
``tests/unit/stream/test_fastingest.py`` checks that both leave a stage in the same state.

Templating follows ``detectors.routes.template`` exactly (for the ASCII paths it sees):
a segment of digits, a UUID, or 16+ hex characters (before an optional extension) is an
id. Events that carry the app's own ``route`` are classified by ``Routes.classify``.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.object cimport PyObject
from cpython.ref cimport Py_DECREF, Py_INCREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from cpython.unicode cimport PyUnicode_1BYTE_DATA, PyUnicode_New
from libc.stdint cimport uint64_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memchr, memcmp, memcpy

from detectors.routes cimport Routes
from detectors.stages cimport AccountStage

include "jsontext.pxi"

__all__ = ["Ingest", "parse_number", "template"]


DEF MAX_IDS = 64           # more id segments in one path: Routes classifies it
DEF MAX_TEMPLATE = 16384   # longer "METHOD template" texts: likewise
DEF MAX_METHOD = 64        # longer methods: the message is declined (the validator allows 32)
#: distinct endpoints remembered per stage (then forgotten, as Routes forgets its caches)
DEF ENDPOINT_CACHE_LIMIT = 50000


cdef struct Span:
    const char *p
    Py_ssize_t n    # -1: null


cdef struct Row:
    double ts
    long status
    Span ip
    Span method
    Span path
    Span account
    Span route
    Span agent


cdef struct Entry:        # an open-addressing hash table slot
    uint64_t hash
    const char *key       # owned by the table (persistent) or the message (per call)
    Py_ssize_t n
    const char *key2      # path table: the method (a second part of the key)
    Py_ssize_t n2
    PyObject *obj         # a new reference held by the table
    PyObject *extra       # path table: the ids tuple
    int flag              # endpoint and path tables: sensitive


cdef struct Table:
    Entry *slots
    Py_ssize_t mask
    Py_ssize_t used
    bint owns_keys
    Py_ssize_t *order     # per-message tables: the used slots, to empty them quickly


cdef inline uint64_t mix(uint64_t h) noexcept nogil:
    h ^= h >> 32
    h *= 0xD6E8FEB86659FD93ULL
    h ^= h >> 32
    return h


cdef inline uint64_t strhash(const char *p, Py_ssize_t n) noexcept nogil:
    """A hash of ``p[:n]`` for the tables below, eight bytes at a time."""
    cdef uint64_t h = 0x9E3779B97F4A7C15ULL ^ <uint64_t>n
    cdef uint64_t w
    while n >= 8:
        memcpy(&w, p, 8)
        h = mix(h ^ w) * 0x9E3779B97F4A7C15ULL
        p += 8
        n -= 8
    if n:
        w = 0
        memcpy(&w, p, n)
        h = mix(h ^ w) * 0x9E3779B97F4A7C15ULL
    return mix(h)


cdef int table_init(Table *t, Py_ssize_t want, bint owns_keys) noexcept:
    cdef Py_ssize_t size = 64
    while size < 2 * want:
        size *= 2
    t.slots = <Entry *>calloc(size, sizeof(Entry))
    t.order = NULL
    if t.slots == NULL:
        return -1
    if not owns_keys:
        t.order = <Py_ssize_t *>malloc((size // 2 + 1) * sizeof(Py_ssize_t))
        if t.order == NULL:
            free(t.slots)
            t.slots = NULL
            return -1
    t.mask, t.used, t.owns_keys = size - 1, 0, owns_keys
    return 0


cdef inline void table_note(Table *t, Entry *e) noexcept nogil:
    """Count a slot just filled (and remember it, in a per-message table)."""
    if t.order != NULL:
        t.order[t.used] = e - t.slots
    t.used += 1


cdef void table_reset(Table *t) noexcept:
    """Empty a per-message table: only the slots it used are visited."""
    cdef Py_ssize_t i
    cdef Entry *e
    for i in range(t.used):
        e = &t.slots[t.order[i]]
        Py_DECREF(<object>e.obj)
        if e.extra != NULL:
            Py_DECREF(<object>e.extra)
        e.obj = NULL
        e.extra = NULL
    t.used = 0


cdef void table_clear(Table *t) noexcept:
    cdef Py_ssize_t i
    if t.slots == NULL:
        return
    for i in range(t.mask + 1):
        if t.slots[i].obj != NULL:
            Py_DECREF(<object>t.slots[i].obj)
            if t.slots[i].extra != NULL:
                Py_DECREF(<object>t.slots[i].extra)
            if t.owns_keys:
                free(<void *>t.slots[i].key)
            t.slots[i].obj = NULL
            t.slots[i].extra = NULL
    t.used = 0


cdef void table_free(Table *t) noexcept:
    table_clear(t)
    free(t.slots)
    free(t.order)
    t.slots = NULL
    t.order = NULL


cdef inline Entry *table_find(Table *t, const char *p, Py_ssize_t n, uint64_t h) noexcept nogil:
    """The slot of key ``p[:n]``: its entry, or the empty slot where it would go."""
    cdef Py_ssize_t i = <Py_ssize_t>(h & <uint64_t>t.mask)
    cdef Entry *e
    while True:
        e = &t.slots[i]
        if e.obj == NULL or (e.hash == h and e.n == n and memcmp(e.key, p, n) == 0):
            return e
        i = (i + 1) & t.mask


cdef inline Entry *path_find(
    Table *t, const char *path, Py_ssize_t n, const char *method, Py_ssize_t n2, uint64_t h
) noexcept nogil:
    cdef Py_ssize_t i = <Py_ssize_t>(h & <uint64_t>t.mask)
    cdef Entry *e
    while True:
        e = &t.slots[i]
        if e.obj == NULL or (
            e.hash == h and e.n == n and e.n2 == n2 and memcmp(e.key, path, n) == 0
            and memcmp(e.key2, method, n2) == 0
        ):
            return e
        i = (i + 1) & t.mask


cdef int table_grow(Table *t) noexcept:
    """Twice the slots, the same entries (keys are not copied: they move with them)."""
    cdef Table new
    cdef Py_ssize_t i
    cdef Entry *e
    if table_init(&new, t.mask + 1, t.owns_keys) < 0:
        return -1
    for i in range(t.mask + 1):
        if t.slots[i].obj != NULL:
            e = table_find(&new, t.slots[i].key, t.slots[i].n, t.slots[i].hash)
            while e.obj != NULL:  # the path table's keys are (path, method): probe on
                e = &new.slots[(e - new.slots + 1) & new.mask]
            e[0] = t.slots[i]
            table_note(&new, e)
    free(t.slots)
    free(t.order)
    t[0] = new
    return 0


cdef object make_str(const char *p, Py_ssize_t n):
    """A str of ASCII bytes (checked by the parser)."""
    cdef object s = PyUnicode_New(n, 127)
    memcpy(PyUnicode_1BYTE_DATA(s), p, n)
    return s


cdef object interned(Table *t, const char *p, Py_ssize_t n):
    """The one str of this message for ``p[:n]``."""
    cdef uint64_t h = strhash(p, n)
    cdef Entry *e = table_find(t, p, n, h)
    cdef object s
    if e.obj != NULL:
        return <object>e.obj
    if 2 * (t.used + 1) > t.mask + 1:
        if table_grow(t) < 0:
            raise MemoryError()
        e = table_find(t, p, n, h)
    s = make_str(p, n)
    Py_INCREF(s)
    e.hash, e.key, e.n, e.obj, e.extra = h, p, n, <PyObject *>s, NULL
    table_note(t, e)
    return s


# -- templating (detectors.routes.template, for ASCII paths) ------------------------------


cdef inline bint is_hex(char c) noexcept nogil:
    return b'0' <= c <= b'9' or b'a' <= c <= b'f' or b'A' <= c <= b'F'


cdef bint is_id(const char *s, Py_ssize_t n) noexcept nogil:
    """``seg.isdigit() or (len(seg) >= 16 and _is_long_id(seg))``."""
    cdef Py_ssize_t i, dot
    if n == 0:
        return False
    for i in range(n):
        if not (b'0' <= s[i] <= b'9'):
            break
    else:
        return True
    if n < 16:
        return False
    if n == 36 and s[8] == b'-' and s[13] == b'-' and s[18] == b'-' and s[23] == b'-':
        for i in range(n):  # hex once every dash is removed
            if s[i] != b'-' and not is_hex(s[i]):
                return False
        return True
    dot = -1
    for i in range(n):
        if s[i] == b'.':
            dot = i
            break
    if dot >= 0:
        if dot < 16:
            return False
        n = dot
    for i in range(n):
        if not is_hex(s[i]):
            return False
    return True


cdef Py_ssize_t template_into(
    const char *path, Py_ssize_t n, char *out, Py_ssize_t cap, Span *ids, Py_ssize_t *n_ids
) noexcept nogil:
    """Write the template of ``path`` to ``out``; its id segments to ``ids``. The length
    written, or -1 when ``out`` or ``ids`` is too small."""
    cdef Py_ssize_t i = 0, start, size = 0, seg
    cdef Py_ssize_t q
    for q in range(n):  # the query string is not part of the route (validated paths have none)
        if path[q] == b'?':
            n = q
            break
    n_ids[0] = 0
    while True:
        start = i
        while i < n and path[i] != b'/':
            i += 1
        seg = i - start
        if is_id(path + start, seg):
            if n_ids[0] == MAX_IDS or size + 4 > cap:
                return -1
            ids[n_ids[0]].p, ids[n_ids[0]].n = path + start, seg
            n_ids[0] += 1
            memcpy(out + size, b"{id}", 4)
            size += 4
        else:
            if size + seg > cap:
                return -1
            memcpy(out + size, path + start, seg)
            size += seg
        if i >= n:
            return size
        if size + 1 > cap:
            return -1
        out[size] = b'/'
        size += 1
        i += 1


def template(bytes path):
    """``detectors.routes.template`` of an ASCII path, computed here (for the tests).

    >>> template(b"/api/users/0042/profile")
    ('/api/users/{id}/profile', ('0042',))
    """
    cdef char out[MAX_TEMPLATE]
    cdef Span ids[MAX_IDS]
    cdef Py_ssize_t n_ids, size, i
    size = template_into(PyBytes_AS_STRING(path), PyBytes_GET_SIZE(path), out, MAX_TEMPLATE,
                         ids, &n_ids)
    if size < 0:
        raise ValueError("path too long or with too many ids for the C templater")
    return (
        out[:size].decode("ascii"),
        tuple([ids[i].p[:ids[i].n].decode("ascii") for i in range(n_ids)]),
    )


# -- the batch message parser ---------------------------------------------------------------


cdef inline const char *skip_ws(const char *p, const char *end) noexcept nogil:
    while p < end and (p[0] == b' ' or p[0] == b'\n' or p[0] == b'\r' or p[0] == b'\t'):
        p += 1
    return p


cdef inline const char *expect(const char *p, const char *end, char c) noexcept nogil:
    p = skip_ws(p, end)
    if p >= end or p[0] != c:
        return NULL
    return skip_ws(p + 1, end)


cdef const char *read_string(const char *p, const char *end, Span *s) noexcept nogil:
    """A string or null at ``p``; NULL to decline (an escape, a control or non-ASCII byte)."""
    cdef const char *start
    cdef const char *q
    if p >= end:
        return NULL
    if p[0] == b'n':
        if end - p >= 4 and memcmp(p, b"null", 4) == 0:
            s.p, s.n = p, -1
            return p + 4
        return NULL
    if p[0] != b'"':
        return NULL
    start = p + 1
    q = <const char *>memchr(start, b'"', end - start)
    if q == NULL or not plain_ascii(start, q - start):
        return NULL
    s.p, s.n = start, q - start
    return q + 1


cdef const char *read_number(const char *p, const char *end, double *x) noexcept nogil:
    """A JSON number at ``p``, as the nearest double (``literal_double``); NULL for what
    JSON's grammar refuses (a leading zero, no digit after the point or in the exponent),
    which orjson refuses too."""
    cdef const char *start = p
    cdef const char *q = p
    cdef bint ok
    if q < end and q[0] == b'-':
        q += 1
    if q >= end or not (b'0' <= q[0] <= b'9'):
        return NULL
    if q[0] == b'0' and q + 1 < end and b'0' <= q[1] <= b'9':
        return NULL
    while q < end and b'0' <= q[0] <= b'9':
        q += 1
    if q < end and q[0] == b'.':
        q += 1
        if q >= end or not (b'0' <= q[0] <= b'9'):
            return NULL
        while q < end and b'0' <= q[0] <= b'9':
            q += 1
    if q < end and (q[0] == b'e' or q[0] == b'E'):
        q += 1
        if q < end and (q[0] == b'+' or q[0] == b'-'):
            q += 1
        if q >= end or not (b'0' <= q[0] <= b'9'):
            return NULL
        while q < end and b'0' <= q[0] <= b'9':
            q += 1
    x[0] = literal_double(start, q - start, &ok)
    return q if ok else NULL


def parse_number(bytes text):
    """:func:`read_number` of ``text`` (for the tests); ValueError if it reads nothing.

    >>> parse_number(b"1714564800.25"), parse_number(b"1.7145648e9")
    (1714564800.25, 1714564800.0)
    """
    cdef double x
    cdef const char *p = PyBytes_AS_STRING(text)
    cdef const char *stop = read_number(p, p + PyBytes_GET_SIZE(text), &x)
    if stop == NULL or stop != p + PyBytes_GET_SIZE(text):
        raise ValueError(f"not a number: {text!r}")
    return x


cdef const char *read_long(const char *p, const char *end, long long *v) noexcept nogil:
    cdef long long x = 0
    cdef const char *start = p
    cdef bint negative = False
    if p < end and p[0] == b'-':
        negative = True
        p += 1
    start = p
    while p < end and b'0' <= p[0] <= b'9':
        if p - start >= 18:
            return NULL
        x = x * 10 + (p[0] - 48)
        p += 1
    if p == start:
        return NULL
    v[0] = -x if negative else x
    return p


cdef const char *skip_nullable_number(const char *p, const char *end) noexcept nogil:
    cdef double ignored
    if end - p >= 4 and memcmp(p, b"null", 4) == 0:
        return p + 4
    return read_number(p, end, &ignored)


cdef inline const char *then(const char *p, const char *end) noexcept nogil:
    """After a value: the comma, and what follows it (NULL if no comma)."""
    if p == NULL:
        return NULL
    return expect(p, end, b',')


cdef const char *read_row(const char *p, const char *end, Row *r) noexcept nogil:
    """``[ts,ip,method,path,status,account,route,bytes,user_agent,session,referer]``."""
    cdef long long status
    cdef Span ignored
    p = expect(p, end, b'[')
    if p == NULL:
        return NULL
    p = then(read_number(p, end, &r.ts), end)
    if p == NULL or not (-1e308 < r.ts < 1e308):
        return NULL
    p = then(read_string(p, end, &r.ip), end)
    if p == NULL or r.ip.n < 0:
        return NULL
    p = then(read_string(p, end, &r.method), end)
    if p == NULL or r.method.n < 0 or r.method.n > MAX_METHOD:
        return NULL
    p = then(read_string(p, end, &r.path), end)
    if p == NULL or r.path.n < 0:
        return NULL
    p = then(read_long(p, end, &status), end)
    if p == NULL:
        return NULL
    r.status = <long>status
    p = then(read_string(p, end, &r.account), end)
    if p == NULL:
        return NULL
    p = then(read_string(p, end, &r.route), end)
    if p == NULL:
        return NULL
    p = then(skip_nullable_number(p, end), end)  # bytes: not used by the stage
    if p == NULL:
        return NULL
    p = then(read_string(p, end, &r.agent), end)
    if p == NULL:
        return NULL
    p = then(read_string(p, end, &ignored), end)  # session
    if p == NULL:
        return NULL
    p = read_string(p, end, &ignored)  # referer
    if p == NULL:
        return NULL
    p = skip_ws(p, end)
    if p >= end or p[0] != b']':
        return NULL
    return p + 1


cdef const char *read_header(
    const char *p, const char *end, Py_ssize_t *n_offsets, long long *first, long long *last
) noexcept nogil:
    """``[2,partition,[offset,...],`` up to the rows' ``[``; NULL to decline."""
    cdef long long version, partition, offset
    p = expect(p, end, b'[')
    if p == NULL:
        return NULL
    p = then(read_long(p, end, &version), end)
    if p == NULL or version != 2:
        return NULL
    p = then(read_long(p, end, &partition), end)
    if p == NULL:
        return NULL
    p = expect(p, end, b'[')
    if p == NULL:
        return NULL
    n_offsets[0] = 0
    while p < end and p[0] != b']':
        if n_offsets[0]:
            p = expect(p, end, b',')
            if p == NULL:
                return NULL
        p = read_long(p, end, &offset)
        if p == NULL:
            return NULL
        if n_offsets[0] == 0:
            first[0] = offset
        last[0] = offset
        n_offsets[0] += 1
        p = skip_ws(p, end)
    p = then(expect(p, end, b']'), end)
    if p == NULL:
        return NULL
    p = skip_ws(p, end)
    if p >= end or p[0] != b'[':
        return NULL
    return skip_ws(p + 1, end)


cdef class Ingest:
    """Feeds ``requests.batches`` messages to one ``AccountStage`` (see the module doc).

    Holds the stage's endpoint names (``METHOD template`` -> the str and whether the
    route is sensitive), so each is made and looked up in ``Routes`` once.
    """

    cdef AccountStage stage
    cdef Table endpoints
    cdef Table strings    # per message (emptied after each): the strings it made
    cdef Table paths      # per message: (path, method) -> endpoint, ids, sensitive

    def __cinit__(self, AccountStage stage):
        self.stage = stage
        self.endpoints.slots = self.strings.slots = self.paths.slots = NULL
        if (
            table_init(&self.endpoints, 1024, True) < 0
            or table_init(&self.strings, 8192, False) < 0
            or table_init(&self.paths, 4096, False) < 0
        ):
            raise MemoryError()

    def __dealloc__(self):
        table_free(&self.endpoints)
        table_free(&self.strings)
        table_free(&self.paths)

    cdef object endpoint(self, const char *key, Py_ssize_t n, int *sensitive):
        """The endpoint str of ``METHOD template`` (and whether it is sensitive)."""
        cdef uint64_t h = strhash(key, n)
        cdef Entry *e
        cdef char *copy
        cdef object name
        cdef Table *t = &self.endpoints
        e = table_find(t, key, n, h)
        if e.obj != NULL:
            sensitive[0] = e.flag
            return <object>e.obj
        if t.used >= ENDPOINT_CACHE_LIMIT:
            table_clear(t)
            e = table_find(t, key, n, h)
        elif 2 * (t.used + 1) > t.mask + 1:
            if table_grow(t) < 0:
                raise MemoryError()
            e = table_find(t, key, n, h)
        name = make_str(key, n)
        sensitive[0] = 1 if self.stage.routes.is_sensitive(name) else 0
        copy = <char *>malloc(n if n else 1)
        if copy == NULL:
            raise MemoryError()
        memcpy(copy, key, n)
        Py_INCREF(name)
        e.hash, e.key, e.n, e.obj, e.extra, e.flag = h, copy, n, <PyObject *>name, NULL, sensitive[0]
        table_note(t, e)
        return name

    def ingest(self, bytes raw, long long after):
        """Fold every event of one batch message into the stage.

        Returns ``(events, first offset, last offset, latest event time)``, or ``None``
        without touching the stage when the message is not one this path reads (see the
        module doc) or its first event is at or below source offset ``after`` (a
        re-delivery: the reference path skips what the stage has seen).
        """
        cdef const char *p = PyBytes_AS_STRING(raw)
        cdef const char *end = p + PyBytes_GET_SIZE(raw)
        cdef long long first = 0, last = 0
        cdef Py_ssize_t n_offsets = 0, n_rows = 0, i, k, size, n_ids
        cdef Row *rows = NULL
        cdef Row *r
        cdef double max_ts = -1e308
        cdef Table *strings = &self.strings
        cdef Table *paths = &self.paths
        cdef char key[MAX_TEMPLATE]
        cdef Span ids[MAX_IDS]
        cdef Entry *e
        cdef uint64_t h
        cdef int sensitive
        cdef object ip, account, agent, endpoint, ids_tuple, method, route, path_str, s
        cdef tuple classified
        cdef AccountStage stage = self.stage
        cdef Routes routes = stage.routes

        # 1. the header and the offsets
        p = read_header(p, end, &n_offsets, &first, &last)
        if p == NULL or n_offsets == 0 or first <= after:
            return None

        # 2. every row, checked before the stage sees any
        rows = <Row *>malloc(n_offsets * sizeof(Row))
        if rows == NULL:
            raise MemoryError()
        try:
            while n_rows < n_offsets:
                if n_rows:
                    p = expect(p, end, b',')
                    if p == NULL:
                        return None
                p = read_row(p, end, &rows[n_rows])
                if p == NULL:
                    return None
                if rows[n_rows].ts > max_ts:
                    max_ts = rows[n_rows].ts
                n_rows += 1
            p = expect(p, end, b']')
            if p == NULL or skip_ws(p, end) >= end or skip_ws(p, end)[0] != b']':
                return None
            if skip_ws(skip_ws(p, end) + 1, end) != end:
                return None

            # 3. fold them in, in order
            while 2 * n_rows > paths.mask + 1:  # one entry per row at most
                if table_grow(paths) < 0:
                    raise MemoryError()
            for i in range(n_rows):
                r = &rows[i]
                ip = interned(strings, r.ip.p, r.ip.n)
                account = None if r.account.n <= 0 else interned(strings, r.account.p, r.account.n)
                agent = None if r.agent.n <= 0 else interned(strings, r.agent.p, r.agent.n)
                if r.route.n > 0:  # the app's own route template: Routes.classify
                    method = interned(strings, r.method.p, r.method.n)
                    route = interned(strings, r.route.p, r.route.n)
                    path_str = interned(strings, r.path.p, r.path.n)
                    classified = routes.classify(method, path_str, route)
                    endpoint, ids_tuple, sensitive = classified
                    stage.fold(r.ts, ip, account, endpoint, ids_tuple, sensitive, r.status, agent)
                    continue
                # the same method and path: the same endpoint and ids (per message)
                h = strhash(r.path.p, r.path.n) * 31 + strhash(r.method.p, r.method.n)
                e = path_find(paths, r.path.p, r.path.n, r.method.p, r.method.n, h)
                if e.obj != NULL:
                    endpoint, ids_tuple, sensitive = <object>e.obj, <object>e.extra, e.flag
                else:
                    memcpy(key, r.method.p, r.method.n)  # read_row: method <= MAX_METHOD
                    key[r.method.n] = b' '
                    size = template_into(r.path.p, r.path.n, key + r.method.n + 1,
                                         MAX_TEMPLATE - r.method.n - 1, ids, &n_ids)
                    if size < 0:  # a path the C templater leaves to Routes
                        method = interned(strings, r.method.p, r.method.n)
                        path_str = interned(strings, r.path.p, r.path.n)
                        endpoint, ids_tuple, sensitive = routes.classify(method, path_str, None)
                    else:
                        endpoint = self.endpoint(key, r.method.n + 1 + size, &sensitive)
                        ids_tuple = PyTuple_New(n_ids)
                        for k in range(n_ids):
                            s = interned(strings, ids[k].p, ids[k].n)
                            Py_INCREF(s)
                            PyTuple_SET_ITEM(ids_tuple, k, s)
                    Py_INCREF(endpoint)
                    Py_INCREF(ids_tuple)
                    e.hash, e.key, e.n, e.key2, e.n2 = h, r.path.p, r.path.n, r.method.p, r.method.n
                    e.obj, e.extra, e.flag = <PyObject *>endpoint, <PyObject *>ids_tuple, sensitive
                    table_note(paths, e)
                stage.fold(r.ts, ip, account, endpoint, ids_tuple, sensitive, r.status, agent)
        finally:
            free(rows)
            table_reset(strings)
            table_reset(paths)
        return n_rows, first, last, max_ts

# Included by stream/fastdecode.pyx and stream/fastingest.pyx (Cython ``include``): the two
# pieces of JSON reading they share, in C.
#
# - ``literal_double``: the double nearest a JSON number literal (what strtod and orjson
#   give), by Clinger's fast path when the literal has at most 19 significant digits
#   forming an integer up to 2**53 and a power of ten up to 22 (both exact doubles: one
#   multiplication or division rounds correctly), else by strtod in the C locale;
# - ``plain_ascii``: whether a span holds only printable ASCII and no backslash (eight
#   bytes at a time), the strings both modules copy as they are.

from libc.stdint cimport uint64_t
from libc.string cimport memcpy

cdef extern from "<locale.h>" nogil:
    ctypedef void *locale_t
    locale_t newlocale(int category_mask, const char *locale, locale_t base)
    int LC_ALL_MASK

cdef extern from "<stdlib.h>" nogil:
    double strtod_l(const char *nptr, char **endptr, locale_t loc)

cdef locale_t _C_LOCALE = newlocale(LC_ALL_MASK, "C", NULL)

cdef double *_POW10 = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
                       1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22]


cdef double literal_double(const char *p, Py_ssize_t n, bint *ok) noexcept nogil:
    """The double of ``p[:n]``, a JSON number (its grammar already checked)."""
    cdef const char *q = p
    cdef const char *end = p + n
    cdef char *stop
    cdef unsigned long long m = 0
    cdef int digits = 0, e10 = 0, e = 0, esign = 1
    cdef bint negative = False
    cdef double x
    ok[0] = True
    if q < end and q[0] == b'-':
        negative = True
        q += 1
    while q < end and b'0' <= q[0] <= b'9':
        if m or q[0] != b'0':
            digits += 1
        if digits <= 19:
            m = m * 10 + (q[0] - 48)
        q += 1
    if q < end and q[0] == b'.':
        q += 1
        while q < end and b'0' <= q[0] <= b'9':
            if m or q[0] != b'0':
                digits += 1
            if digits <= 19:
                m = m * 10 + (q[0] - 48)
                e10 -= 1
            q += 1
    if q < end and (q[0] == b'e' or q[0] == b'E'):
        q += 1
        if q < end and (q[0] == b'+' or q[0] == b'-'):
            if q[0] == b'-':
                esign = -1
            q += 1
        while q < end and b'0' <= q[0] <= b'9':
            if e < 100000:
                e = e * 10 + (q[0] - 48)
            q += 1
        e10 += esign * e
    if digits <= 19 and m <= 9007199254740992ULL and -22 <= e10 <= 22:
        x = <double>m * _POW10[e10] if e10 >= 0 else <double>m / _POW10[-e10]
        return -x if negative else x
    x = strtod_l(p, &stop, _C_LOCALE)
    if stop != end:  # (a literal strtod reads differently: never, for valid JSON)
        ok[0] = False
    return x


cdef inline bint plain_ascii(const char *p, Py_ssize_t n) noexcept nogil:
    """No byte below 0x20, no backslash, nothing from 0x7f up, in ``p[:n]``."""
    cdef uint64_t w, x
    while n >= 8:
        memcpy(&w, p, 8)
        x = w ^ 0x5C5C5C5C5C5C5C5CULL  # a backslash becomes a zero byte
        if (
            (w & 0x8080808080808080ULL)  # 0x80 and up
            or ((w - 0x2020202020202020ULL) & ~w & 0x8080808080808080ULL)  # below 0x20
            or ((x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL)  # a backslash
            or (((w + 0x0101010101010101ULL) & 0x8080808080808080ULL))  # 0x7f (+1: 0x80)
        ):
            return False
        p += 8
        n -= 8
    while n:
        if <unsigned char>p[0] < 0x20 or <unsigned char>p[0] >= 0x7f or p[0] == b'\\':
            return False
        p += 1
        n -= 1
    return True

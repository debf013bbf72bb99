# Cython declarations for stream/events.py (compiled build only: the .py is the source of
# truth and runs unchanged without them; see detectors/compiled.py).
import cython

# client IP text -> canonical form: a C-level dict lookup per event
cdef dict _IPS

# the limits as C numbers (private copies of the exported constants)
cdef double _TS_LOW, _TS_HIGH
cdef Py_ssize_t _METHOD_CHARS, _PATH_CHARS, _ACCOUNT_CHARS, _ROUTE_CHARS, _AGENT_CHARS
cdef Py_ssize_t _SESSION_CHARS, _REFERER_CHARS

cpdef object parse_event(object raw)

@cython.locals(d=dict, ts=double)
cpdef object event_from_obj(object obj)

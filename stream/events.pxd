# Cython declarations for stream/events.py (compiled build only: the .py is the source of
# truth and runs unchanged without them; see detectors/compiled.py).
import cython

# client IP text -> canonical form: a C-level dict lookup per event
cdef dict _IPS

cpdef object parse_event(object raw)

@cython.locals(d=dict)
cpdef object event_from_obj(object obj)

# Cython declarations for stream/events.py (compiled build only: the .py is the source of
# truth and runs unchanged without them; see detectors/compiled.py).
import cython

cpdef object parse_event(object raw)

@cython.locals(d=dict)
cpdef object event_from_obj(object obj)

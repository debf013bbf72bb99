# Cython declarations for detectors/windows.py (compiled build only: the .py is the source of
# truth and runs unchanged without them; see detectors/compiled.py). ``observe`` runs once
# per event: C fields and C arithmetic.
import cython

cdef class WindowClock:
    cdef public double size
    cdef public double lateness
    cdef public double idle_timeout
    cdef public double watermark
    cdef public long long closed_until
    cdef public Py_ssize_t late
    cdef public bint _seen
    cdef public object _idle_since

    @cython.locals(q=double, k=cython.longlong, wm=double)
    cpdef object observe(self, double ts)

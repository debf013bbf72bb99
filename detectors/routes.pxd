# Cython declarations for detectors/routes.py (compiled build only: the .py is the source of
# truth and runs unchanged without them; see detectors/compiled.py).
import cython

cdef class Routes:
    cdef public frozenset known
    cdef public frozenset sensitive
    cdef public dict _static
    cdef public dict _templates
    cdef public dict _sensitive_cache
    cdef public dict _label_cache
    cdef public dict _by_path
    cdef public dict _by_route

    @cython.locals(hit=tuple, found=tuple, holes=tuple, segs=list, n=Py_ssize_t,
                   q=Py_ssize_t, i=Py_ssize_t)
    cpdef tuple classify(self, str method, str path, object route=*)


@cython.locals(q=Py_ssize_t, segs=list, ids=list, i=Py_ssize_t, seg=str)
cpdef tuple template(str path)

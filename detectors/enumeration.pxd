# Cython declarations for detectors/enumeration.py (compiled build only: the .py is the
# source of truth and runs unchanged without them; see detectors/compiled.py).
import cython

cdef double _MAX

@cython.locals(out=dict, v=double)
cpdef dict _finite_clamped(object names, object x)

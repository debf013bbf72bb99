# Cython declarations for detectors/baseline.py (compiled build only: the .py is the source
# of truth and runs unchanged without them; see detectors/compiled.py). Once per account
# window: the baseline's update and score over its array of means and variances.
import cython

cdef double _MAX_COUNT
cdef double _HUGE

@cython.locals(c=double)
cdef inline double _transform(double raw, bint log)

@cython.locals(i=Py_ssize_t, log=bint, floor=double, r=double, v=double,
               mean=double, var=double, sd=double, bound=double, d=double)
cpdef _learn_stats(double[:] stats, tuple spec, object x, double alpha, double clip)

@cython.locals(i=Py_ssize_t, log=bint, floor=double, r=double, v=double,
               mean=double, sd=double, z=double, best=double)
cpdef double _score_stats(double[:] stats, tuple spec, object x, double weight, double cap)

# Cython declarations for detectors/features.py (compiled build only; the .py is the
# source of truth and runs unchanged without them). Typed attributes make the per-event
# ``add`` a few C field updates instead of Python attribute lookups.
import cython

cdef class AccountWindow:
    cdef public str entity_type
    cdef public Py_ssize_t requests
    cdef public dict endpoints
    cdef public set resources
    cdef public set sensitive_ids
    cdef public Py_ssize_t sensitive_requests
    cdef public Py_ssize_t errors
    cdef public Py_ssize_t auth_failures
    cdef public list times
    cdef public set ips
    cdef public list agents

    cpdef add(self, double ts, str endpoint, tuple ids, bint sensitive, long status, str ip,
              object agent)

    @cython.locals(n=Py_ssize_t)
    cpdef dict features(self, double new_resource_ratio)


cdef class EndpointWindow:
    cdef public Py_ssize_t requests
    cdef public dict accounts
    cdef public set resources

    cpdef add(self, str entity, tuple ids)


@cython.locals(ts=list, n=Py_ssize_t, i=Py_ssize_t, total=double, mean=double, var=double,
               g=double, prev=double, t=double)
cpdef object interarrival_cv(list times)

@cython.locals(nums=list, n=Py_ssize_t, k=Py_ssize_t, close=Py_ssize_t)
cpdef double sequential_walk(object ids)

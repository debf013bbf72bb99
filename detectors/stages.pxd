# Cython declarations for detectors/stages.py (compiled build only: the .py is the source of
# truth and runs unchanged without them; see detectors/compiled.py). The account stage's
# per-event ``ingest`` calls its window accumulators and the route classifier directly.
import cython

from detectors.features cimport AccountWindow, EndpointWindow
from detectors.horizon cimport Horizon
from detectors.routes cimport Routes
from detectors.windows cimport WindowClock

cdef class EntityState:
    cdef public str entity_type
    cdef public object baseline
    cdef public Horizon horizon

cdef class AccountStage:
    cdef public object config
    cdef public object partition
    cdef public object loader
    cdef public object models
    cdef public Routes routes
    cdef public WindowClock clock
    cdef public dict states
    cdef public dict _open
    cdef public dict _endpoints
    cdef public object _current
    cdef public tuple _current_windows
    cdef public object _late_reported
    cdef public object _cal_cache
    cdef public object self_min_requests
    cdef public Py_ssize_t early_requests
    cdef public list _early

    @cython.locals(ids=tuple, sensitive=bint)
    cpdef ingest(self, object req)
    @cython.locals(acc=AccountWindow, ep=EndpointWindow, wins=dict, eps=dict, n=Py_ssize_t)
    cpdef fold(self, double ts, str ip, object account, str endpoint, tuple ids, bint sensitive,
               long status, object agent)
    cpdef ingest_all(self, object rows)
    # once per entity per closed window: C calls, typed locals
    cpdef EntityState _state(self, str entity, str entity_type)
    @cython.locals(st=EntityState, x=dict, judged_by_self=bint, allowlisted=bint, flagged=bint,
                   calibrators=tuple, scores=tuple)
    cpdef _close_entity(self, str entity, AccountWindow acc, double start, double end,
                        object out)
    cpdef tuple _calibrators(self)
    @cython.locals(st=EntityState, states=dict)
    cpdef _expire(self, double now, object out)

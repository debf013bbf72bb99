# Cython declarations for detectors/horizon.py (compiled build only: the .py is the source of
# truth and runs unchanged without them; see detectors/compiled.py). ``update`` runs once per
# entity per closed window: its loops over the rings' tuples become C loops.
import cython

cdef object _deserialize

@cython.locals(sk=object)
cpdef object _add(object blob, object items, int lg_k)

@cython.locals(sketches=list, b=object)
cpdef double _distinct(list blobs, int lg_k)

cpdef double _estimate(list sketches, int lg_k)

cdef class Horizon:
    cdef public int lg_k
    cdef public object hour
    cdef public object day

    @cython.locals(hb=cython.longlong, cutoff=cython.longlong, db=cython.longlong,
                   day_cutoff=cython.longlong, hour=list, day=list, older=list, blobs=list,
                   b=tuple, d=tuple, current=tuple, before=double, resources_1h=double, new=double,
                   sens_1h=double, sens_24h=double, sreq_1h=cython.longlong,
                   active_1h=cython.longlong, same_day=bint, any_sensitive=bint)
    cpdef tuple update(self, double window_start, object resources, object sensitive,
                       object sensitive_requests)

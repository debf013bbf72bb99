# Cython declarations for detectors/population.py (compiled build only: the .py is the source
# of truth and runs unchanged without them; see detectors/compiled.py). Once per account
# window per model: the derived quantities and their comparisons as C doubles.
import cython

cdef double _MAX

@cython.locals(has_requests=bint, requests=double, has_walk=bint, walk=double, has_cv=bint,
               regular=double, cv=double, machine=double, out=dict, v=double, share=double,
               has_resources=bint, resources=double)
cpdef dict derived_features(object x)

@cython.locals(r=double, value=double)
cpdef bint _exceeds(dict refs, dict derived)

@cython.locals(out=dict, r=double, value=double, w=double, excess=double)
cpdef dict _excesses(dict refs, dict weights, dict derived)

@cython.locals(pair=tuple)
cpdef _learn(dict updaters, dict derived, object model)

@cython.locals(state=dict)
cpdef dict _references(object model)

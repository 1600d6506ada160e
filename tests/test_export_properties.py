"""Property: for any generated well-shaped expression, the SymPy-printed modules (--format numpy and
torch) and the SymPy object compute what the `numpy` field computes, and that agrees with finite
differences (test_diff_properties.py checks the `numpy` field against them on the same generator)."""

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_diff import as_arrays, assert_close
from test_diff_properties import draw_point, evaluate_code
from test_properties import DECLS, SIZES, typed_expressions

from matcalc import diff
from matcalc.errors import UnsupportedError
from matcalc.numeric import kink_distance


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
@given(typed_expressions(), st.sampled_from(["numerator", "denominator"]), st.data())
def test_generated_modules_compute_what_the_numpy_field_computes(case, layout, data):
    import torch  # in the test extra

    text, parsed, wrt, values = draw_point(case, data)
    assume(kink_distance([parsed.expr], values, SIZES) > 1e-3)
    try:
        result = diff(text, wrt, DECLS, layout)
    except UnsupportedError:
        assume(False)
    want = evaluate_code(result, parsed, values)
    assume(np.all(np.isfinite(want)))
    arrays = as_arrays(parsed, values)
    for backend in ("numpy", "torch"):
        namespace: dict = {}
        exec(result.code(backend), namespace)  # our generated code
        given_sizes = {name: size for name, size in SIZES.items() if f"*, {name}" in result.code(backend)}
        inputs = arrays if backend == "numpy" else \
            {name: torch.tensor(value, dtype=torch.float64) for name, value in arrays.items()}
        with np.errstate(all="ignore"):
            got = np.asarray(namespace["derivative"](**inputs, **given_sizes), dtype=float)
        assert_close(got.reshape(want.shape), want)

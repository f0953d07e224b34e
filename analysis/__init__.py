"""What measures: exact Gaussian laws, distances, error curves."""

import schedules as _schedules  # noqa: F401  (float64 on import)

from ._distances import kl_gaussian as kl_gaussian
from ._distances import w2_gaussian as w2_gaussian
from ._distances import w2sq_gaussian as w2sq_gaussian
from ._distances import weak_error_quadratic as weak_error_quadratic
from ._exact_law import check_finite_law as check_finite_law
from ._exact_law import exact_law as exact_law
from ._exact_law import exact_law_per_direction as exact_law_per_direction
from ._error_curve import REFERENCES as REFERENCES
from ._error_curve import STARTS as STARTS
from ._error_curve import ErrorCurve as ErrorCurve
from ._error_curve import error_curve as error_curve
from ._error_curve import prior_law as prior_law
from ._error_curve import resolve_grid as resolve_grid
from ._error_curve import resolve_solver as resolve_solver
from ._spectra import check_spectrum as check_spectrum
from ._spectra import parse_spectrum as parse_spectrum
from ._spectra import power_law_spectrum as power_law_spectrum

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
from ._expansion import GRID_MAPS as GRID_MAPS
from ._expansion import Expansion as Expansion
from ._expansion import bures_first_order as bures_first_order
from ._expansion import compare_routes as compare_routes
from ._expansion import exact_scaled_errors as exact_scaled_errors
from ._expansion import expansion as expansion
from ._expansion import first_order_constant as first_order_constant
from ._expansion import frechet_constant as frechet_constant
from ._expansion import grid_from_map as grid_from_map
from ._expansion import grid_map as grid_map
from ._expansion import predicted_w2sq as predicted_w2sq
from ._expansion import richardson_constant as richardson_constant
from ._expansion import weak_constant as weak_constant
from ._spectra import check_spectrum as check_spectrum
from ._spectra import parse_spectrum as parse_spectrum
from ._spectra import power_law_spectrum as power_law_spectrum
from ._langevin_exact import AffineIncrement as AffineIncrement
from ._langevin_exact import LangevinCurve as LangevinCurve
from ._langevin_exact import check_step_below_bound as check_step_below_bound
from ._langevin_exact import continuous_time_covariance as continuous_time_covariance
from ._langevin_exact import dual_w2 as dual_w2
from ._langevin_exact import langevin_curve as langevin_curve
from ._langevin_exact import langevin_law as langevin_law
from ._langevin_exact import read_increment as read_increment
from ._langevin_exact import stability_bound as stability_bound
from ._langevin_exact import stationary_covariance as stationary_covariance
from ._langevin_exact import stationary_distances as stationary_distances
from ._langevin_exact import stationary_law as stationary_law
from ._langevin_exact import STARTS_LANGEVIN as STARTS_LANGEVIN
from ._langevin_exact import parse_mirror as parse_mirror

"""Langevin kernels (ULA, MALA, annealed, preconditioned, mirror) and mirror maps."""

from ._langevin import MALA as MALA
from ._langevin import ULA as ULA
from ._langevin import AbstractLangevinKernel as AbstractLangevinKernel
from ._langevin import AbstractUnadjustedKernel as AbstractUnadjustedKernel
from ._langevin import AnnealedLangevin as AnnealedLangevin
from ._langevin import DualLangevin as DualLangevin
from ._langevin import LangevinInfo as LangevinInfo
from ._langevin import LangevinRun as LangevinRun
from ._langevin import LangevinState as LangevinState
from ._langevin import MirrorLangevin as MirrorLangevin
from ._langevin import MirrorMALA as MirrorMALA
from ._langevin import NewtonLangevin as NewtonLangevin
from ._langevin import PreconditionedULA as PreconditionedULA
from ._langevin import run_langevin as run_langevin
from ._langevin import MirrorRun as MirrorRun
from ._langevin import run_mirror_langevin as run_mirror_langevin
from ._mirror import MIRROR_MAPS as MIRROR_MAPS
from ._mirror import AbstractMirrorMap as AbstractMirrorMap
from ._mirror import BallBarrier as BallBarrier
from ._mirror import BoxBarrier as BoxBarrier
from ._mirror import BurgEntropy as BurgEntropy
from ._mirror import EntropicBox as EntropicBox
from ._mirror import EntropyOrthant as EntropyOrthant
from ._mirror import EntropySimplex as EntropySimplex
from ._mirror import FermiDirac as FermiDirac
from ._mirror import QuadraticMirror as QuadraticMirror

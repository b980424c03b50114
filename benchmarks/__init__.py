"""asv benchmarks of adcost: thin classes over `adcost.bench`; the grids live in adcost.grids.

asv's forkserver imports this package once and forks a process per parameter combination, so
the installed frameworks are imported here, once, instead of in every process."""
from adcost.bench import preimport

preimport()

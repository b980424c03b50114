"""asv benchmarks of adcost: thin classes over `adcost.bench`; the grids live in adcost.grids.

Importing this package imports no framework, except inside asv's forkserver, which imports the
suite once and forks a process per parameter combination: there the installed frameworks are
imported once (adcost.bench.preimport) instead of in every process."""
from adcost.bench import preimport

preimport()

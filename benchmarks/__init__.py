"""asv benchmarks of adcost: thin classes over `adcost.bench`; the grids live in adcost.grids.

Importing this package imports no framework, except inside asv's forkserver, which imports the
suite once and forks a process per parameter combination: there the installed frameworks are
imported once (adcost.bench.preimport) instead of in every process.  $ADCOST_THREADS is applied
first, so a plain `asv run` (not only adcost.sweep, which applies it before asv starts) limits
every framework's threads."""
from adcost import threads
from adcost.bench import preimport

threads.apply()
preimport()

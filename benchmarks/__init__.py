"""asv benchmarks of adcost: thin classes over `adcost.bench`; the grids live in adcost.grids."""

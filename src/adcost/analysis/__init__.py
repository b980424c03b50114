"""Analysis of the asv results: load → tidy → fit → plot → site.

One module per figure, each with `main(argv)`:  `python -m adcost.analysis.plots` builds them all,
`python -m adcost.analysis.site` the self-contained page.  Matplotlib runs on the Agg backend,
chosen in `analysis.plotting`, never at import of the adcost package.
"""

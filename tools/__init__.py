"""Developer tools of the checkout (not part of the ``hybridfer`` package): the data-root
rule shared by the tests and the benchmarks, and the layering check."""

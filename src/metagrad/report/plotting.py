"""Deprecated location of :mod:`metagrad.plotting` (kept while experiments are ported)."""

from metagrad.plotting import new_figure, sim_errorbar, theory_line  # noqa: F401

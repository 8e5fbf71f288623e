"""The HPGe spectrum simulator: detector model, expected spectra, and station series.

See docs/simulator.md for the physical model and every parameter.
"""

"""The station's edge agent: drives the MCA, builds and signs spectra, queues and sends them."""

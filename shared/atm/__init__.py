"""Atmospheric transport data and what the releases add at the IMS noble-gas stations.

`srs` reads backward source-receptor sensitivities (CTBTO text format), `hysplit` reads
forward HYSPLIT concentration files (cdump), `impact` turns releases into concentrations
at an IMS sample, `ims_stations` lists the stations, `ims_results` reads a station's own
measured concentrations. All pure: bytes and arrays in, dataclasses out. See docs/impact.md.
"""

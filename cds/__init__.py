"""CDS: the Copernicus Sentinel business on top of the MaaS framework."""

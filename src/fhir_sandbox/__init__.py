"""fhir-sandbox: a FHIR R4 sandbox for the UK organisation and endpoint registry."""

__version__ = "0.1.0"

"""FHIR-level building blocks: models, validation, formats, outcomes, element filters."""

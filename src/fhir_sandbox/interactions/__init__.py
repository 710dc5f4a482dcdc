"""FHIR interactions, one module each (https://hl7.org/fhir/R4/http.html).

Each takes a plain `FhirRequest` and returns a `Result`; none knows HTTP frameworks or SQL.
"""

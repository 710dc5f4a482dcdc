"""`python -m fhir_sandbox` runs the same CLI as the `fhir-sandbox` script."""

from fhir_sandbox.cli import main

main()

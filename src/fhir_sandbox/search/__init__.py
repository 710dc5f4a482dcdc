"""Search: parsing queries into typed clauses, and the result shape."""

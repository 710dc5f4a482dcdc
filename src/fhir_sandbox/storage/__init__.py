"""Storage: the repository contract and its implementations (memory, SQL)."""

"""The SearchParameter registry (data, built once) and index extraction on write."""

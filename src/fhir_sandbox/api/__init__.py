"""The HTTP edge: the only code that knows Starlette/FastAPI."""

"""Datasets (one module per public annotation format), transforms, joint sampling."""
# Each module registers its classes on import. Add a line per new module (keep sorted).

__all__ = []

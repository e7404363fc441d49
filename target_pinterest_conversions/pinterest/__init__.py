"""What Pinterest's API defines: the field registry, event vocabulary and number limits.

Pure data and lookups. Nothing here imports another part of the package.
"""

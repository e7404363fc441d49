"""Sending and accounting: the I/O of the package, with the run and the SDK glue.

Batches, the HTTP client, the request pool, outcomes, the dead-letter file and the
STATE gate.
"""

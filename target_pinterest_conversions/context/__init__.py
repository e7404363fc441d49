"""The run's context: its summary, redaction of secrets, errors, interrupts, output files."""

"""Run the target with ``python -m target_pinterest_conversions``."""

from target_pinterest_conversions.target import TargetPinterestConversions

TargetPinterestConversions.cli()

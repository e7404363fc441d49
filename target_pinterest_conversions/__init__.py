"""target-pinterest-conversions: a Singer target for the Pinterest API for Conversions."""

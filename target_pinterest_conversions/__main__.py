"""The command: ``target-pinterest-conversions`` and ``python -m target_pinterest_conversions``.

Termination signals are taken over first, before the SDK and its dependencies are
imported (a few hundred milliseconds): an orchestrator's SIGTERM at start-up then ends the
run with exit 143 like one later on, instead of killing the process outright.
"""

from __future__ import annotations

from target_pinterest_conversions.context.interrupt import PROCESS


def main() -> None:
    """Install the signal handlers, then run the SDK's command line."""
    PROCESS.install()
    from target_pinterest_conversions.target import TargetPinterestConversions

    TargetPinterestConversions.cli()


if __name__ == "__main__":
    main()

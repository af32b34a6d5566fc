"""Entry file for ``spark-submit`` (which wants a ``.py`` file): ``churnguard batch ARGS``.

    spark-submit ... "$(python -c 'import churnguard.batch.submit as m; print(m.__file__)')" \
        --as-of 2025-05 --engine spark --source catalog:telco --workspace /shared/ws
"""

from __future__ import annotations

import sys


def run(argv: list[str] | None = None) -> None:
    """Run ``churnguard batch`` with ``argv`` (default: this process's arguments)."""
    from churnguard.cli import main  # absolute: spark-submit runs this file as a script

    sys.argv = [sys.argv[0], "batch", *(sys.argv[1:] if argv is None else argv)]
    main()


if __name__ == "__main__":
    run()

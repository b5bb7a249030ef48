"""The Allure Report 3 configuration ``make demo`` renders the HTML report with.

Allure 3's default report (the "awesome" plugin) takes failure categories from its
configuration, not from ``categories.json`` in the results (only its Allure 2 style plugins
read that file), so the same categories go into both. The report is one self-contained HTML
file, so a browser opens it from disk without a server.

``python -m pytest_ciliumbgp.evidence.allure3 PATH`` writes the configuration to PATH.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pytest_ciliumbgp.evidence.categories import as_allure

REPORT_NAME = "Cilium BGP LoadBalancer conformance (pytest-ciliumbgp)"


def config() -> dict[str, Any]:
    return {
        "name": REPORT_NAME,
        "categories": as_allure(),
        "plugins": {"awesome": {"options": {"singleFile": True}}},
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m pytest_ciliumbgp.evidence.allure3 CONFIG.json", file=sys.stderr)
        return 2
    target = Path(args[0])
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(config(), indent=2, ensure_ascii=False) + "\n")
    except OSError as err:
        print(f"allure3: cannot write {target}: {err.strerror}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

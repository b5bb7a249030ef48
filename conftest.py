"""Repo root. Running from a checkout needs nothing here: the plugin is loaded through its
``pytest11`` entry point once the checkout is installed (``pip install -e '.[dev]'``), and the
suite in ``suites/`` and the project's tests in ``tests/`` bring their own conftests."""

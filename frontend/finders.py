"""A static files finder that serves ``plotly/plotly.min.js`` from the installed plotly package.

The Python ``plotly`` package ships the browser bundle in its ``package_data``; this finder
exposes that one file (nothing else from the package) at ``{STATIC_URL}plotly/plotly.min.js``,
for ``runserver``, the frontend's static view and ``collectstatic`` alike, so the 4.8 MB file
never enters the repository and its version always matches the pinned package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PLOTLY_STATIC_PATH = "plotly/plotly.min.js"


def plotly_bundle() -> Path:
    """Where the installed plotly package keeps ``plotly.min.js``."""
    import plotly

    return Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


class PlotlyFinder(BaseFinder):
    """Finds ``plotly/plotly.min.js`` and nothing else."""

    def check(self, **kwargs: Any) -> list:
        from django.core.checks import Error

        if not plotly_bundle().is_file():
            return [Error(f"plotly.min.js not found at {plotly_bundle()}",
                          hint="install the plotly package (requirements.txt)",
                          id="frontend.E001")]
        return []

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> str | list[str]:
        if path == PLOTLY_STATIC_PATH and plotly_bundle().is_file():
            found = str(plotly_bundle())
            return [found] if find_all or kwargs.get("all") else found
        return []  # what Django's own finders answer for "not here"

    def list(self, ignore_patterns: Any) -> Any:
        bundle = plotly_bundle()
        storage = FileSystemStorage(location=str(bundle.parent))
        storage.prefix = "plotly"
        yield bundle.name, storage

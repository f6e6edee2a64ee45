"""The package list, which pyproject.toml cannot express: found packages plus one mapped one.

``otel_workflow.exporters`` lives in the top-level ``exporters/`` directory (the project's
layout) and is mapped by ``[tool.setuptools.package-dir]`` in pyproject.toml; setuptools'
``packages.find`` only sees directories under their own names, so the mapped package is
added here.  Everything else about the distribution is in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["otel_workflow*"], exclude=["otel_workflow.exporters*"]),
        "otel_workflow.exporters",
        # Data-only directories (the demo's Prometheus config and rules), listed so the
        # build ships them without "package would be ignored" warnings.
        "otel_workflow.demo.data",
        "otel_workflow.demo.data.rules",
    ]
)

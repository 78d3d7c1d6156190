"""Package discovery that pyproject.toml cannot express on its own.

schema/ and ivr_scripts/ live at the top of the repository but ship inside
the package (see package-dir in pyproject.toml); find_packages cannot see
mapped directories, so they are named here.
"""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["callcenter", "callcenter.*"])
    + ["callcenter.schema", "callcenter.ivr_scripts"],
)

"""Locate the top-level folders that ship with the package (schema/, ivr_scripts/).

In a checkout they sit beside ``callcenter/``; in an installed wheel they are
the subpackages ``callcenter.schema`` and ``callcenter.ivr_scripts``.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path


def shipped_dir(name: str) -> Path:
    checkout = Path(__file__).resolve().parent.parent / name
    if checkout.is_dir():
        return checkout
    return Path(str(resources.files(f"callcenter.{name}")))

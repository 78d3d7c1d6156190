"""The machine a benchmark ran on, printed with every figure (these machines are noisy)."""
from __future__ import annotations

import os
import platform
import subprocess
import sys


def describe() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:
        pass
    mem = ""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        mem = f", {pages * size / 2**30:.0f} GiB RAM"
    except (ValueError, OSError):
        pass
    return (f"{cpu}, {os.cpu_count()} cores{mem}; Python {sys.version.split()[0]} on "
            f"{platform.system()} {platform.release()}")


if __name__ == "__main__":
    print(describe())


def describe_checkout(root: os.PathLike | str) -> str:
    """The checkout measured and its commit (plus 'modified' when its work tree differs)."""
    try:
        rev = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty=+modified"],
                             capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = "no git"
    return f"{root} at {rev}"

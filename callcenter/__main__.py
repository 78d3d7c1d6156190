"""``python -m callcenter`` is the ``callcenter`` command (handy where the script is not on PATH)."""
import sys

from .cli import main

sys.exit(main())

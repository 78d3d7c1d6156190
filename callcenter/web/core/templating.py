"""The jinja2 environment the pages render with: the same HTML as stock jinja, for less CPU per value.

Why: a list page prints about 600 values, and stock jinja spends most of its
rendering time around them, not in the template's own logic (py-spy,
bench/web.py):

* ``{{ t.title }}`` compiles to ``environment.getattr(t, "title")``, which tries
  the *attribute* first.  Database rows (asyncpg Records) and dicts keep their
  fields as items, so every such lookup raised and caught an AttributeError.
  Here a Record or dict goes to the item first whenever the name is not one of
  its type's own attributes; getattr would have failed for exactly those
  names, so every lookup still resolves as stock jinja's does (``d.items`` is
  still the method).
* Autoescaping wraps every printed value in a new ``Markup`` object, only for
  the page to join them into one string.  Here a printed value becomes its
  escaped *text* (:func:`escaped_text`: the same characters markupsafe's
  ``escape`` gives), and only the value side changes: ``Markup(...)`` results
  of macros, ``{% set %}`` blocks and ``|e`` are built as before.
"""
from __future__ import annotations

from typing import Any

import asyncpg
import jinja2
import markupsafe
from jinja2.compiler import CodeGenerator

try:                                   # markupsafe's C escape, returning a plain str
    from markupsafe import _escape_inner
except ImportError:                    # pragma: no cover - a markupsafe without it: same text, a little slower
    def _escape_inner(text: str) -> str:
        return str(markupsafe.escape(text))

#: Names that ``getattr`` finds on these types (methods and dunders); any other name can only be an item.
_TYPE_ATTRIBUTES = {kind: frozenset(dir(kind)) for kind in (asyncpg.Record, dict)}


def escaped_text(value: Any) -> str:
    """``str(markupsafe.escape(value))`` without building the Markup: what a printed ``{{ value }}`` adds to the page."""
    if type(value) is str:
        return _escape_inner(value)
    html = getattr(value, "__html__", None)       # Markup and friends: already safe, printed as they are
    if html is not None:
        return html()
    return _escape_inner(str(value))


class _OutputCodeGenerator(CodeGenerator):
    """Compiles an autoescaped ``{{ value }}`` to ``environment.escaped_text(value)`` instead of ``escape(value)``."""

    def _output_child_pre(self, node, frame, finalize) -> None:
        if frame.eval_ctx.autoescape and not frame.eval_ctx.volatile:
            self.write("environment.escaped_text(")
            if finalize.src is not None:
                self.write(finalize.src)
        else:
            super()._output_child_pre(node, frame, finalize)


class RowEnvironment(jinja2.Environment):
    """A jinja2 environment that reads a row's or dict's items directly and prints escaped text."""

    code_generator_class = _OutputCodeGenerator
    escaped_text = staticmethod(escaped_text)

    def getattr(self, obj: Any, attribute: str) -> Any:
        own = _TYPE_ATTRIBUTES.get(type(obj))
        if own is not None and attribute not in own:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        try:                                       # stock jinja's lookup, inlined: the attribute, then the item
            return getattr(obj, attribute)
        except AttributeError:
            pass
        try:
            return obj[attribute]
        except (TypeError, LookupError, AttributeError):
            return self.undefined(obj=obj, name=attribute)

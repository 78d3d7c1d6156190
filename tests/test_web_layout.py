"""The shape of callcenter/web: one package per area with its templates, over one shared core.

No database: these read the package as it is installed (an editable checkout
or ``pip install .``), so a template left out of the package data, a template
name that no folder holds, or an import that points outward fails here.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import aiohttp_jinja2
from aiohttp import web

import callcenter.web
from callcenter.web.core.render import area_templates, setup_templates

WEB = Path(callcenter.web.__file__).resolve().parent
#: What web/ itself holds; everything else lives in an area or in the core.
TOP_LEVEL = {"__init__.py", "app.py", "runner.py"}
_RENDERED = re.compile(r"""render\(\s*["']([^"']+\.html)["']""")
_INCLUDED = re.compile(r"""{%-?\s*(?:extends|include|import|from)\s+["']([^"']+\.html)["']""")


def _env():
    app = web.Application()
    setup_templates(app)
    return aiohttp_jinja2.get_env(app)


def _areas() -> list[str]:
    return sorted(p.name for p in WEB.iterdir() if (p / "__init__.py").is_file())


def test_web_holds_only_the_app_factory_the_runner_and_the_areas():
    assert {p.name for p in WEB.glob("*.py")} == TOP_LEVEL
    assert not (WEB / "templates").exists()
    assert "core" in _areas()


def test_every_template_compiles_through_the_apps_environment():
    env = _env()
    names = env.list_templates()
    on_disk = sum(1 for p in WEB.glob("*/templates/**/*.html"))
    assert len(names) == on_disk, "a template is shadowed or not reachable by its name"
    for name in names:
        env.get_template(name)          # raises on a missing include, filter or syntax error
    assert {"base.html", "_pager.html", "error.html", "login.html"} <= set(names)
    for area in area_templates():
        assert any(n.startswith(f"{area}/") for n in names), area


def test_every_template_name_the_code_uses_exists():
    env = _env()
    known = set(env.list_templates())
    used = set()
    for source in WEB.rglob("*.py"):
        used |= set(_RENDERED.findall(source.read_text(encoding="utf-8")))
    for source in WEB.rglob("*.html"):
        used |= set(_INCLUDED.findall(source.read_text(encoding="utf-8")))
    assert used, "the patterns found no template names"
    assert used - known == set()


def _imported_areas(path: Path) -> set[tuple[str, str]]:
    """(area, module) pairs of callcenter.web that ``path`` imports, resolved from relative imports."""
    package = path.relative_to(WEB).parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = list(("callcenter", "web") + package)[: len(package) + 2 - (node.level - 1)]
            dotted = base + (node.module.split(".") if node.module else [])
        else:
            dotted = (node.module or "").split(".")
        if dotted[:2] != ["callcenter", "web"] or len(dotted) < 3:
            continue
        if len(dotted) == 3:                          # from ..area import module
            found |= {(dotted[2], alias.name) for alias in node.names}
        else:
            found.add((dotted[2], dotted[3]))
    return found


def _handler_modules() -> set[tuple[str, str]]:
    return {(p.parent.name, p.stem) for p in WEB.glob("*/*.py") if "web.RouteTableDef()" in p.read_text(encoding="utf-8")}


def test_imports_point_inward():
    """The core imports no area; an area imports the core, the domain and no other area's handlers."""
    handlers = _handler_modules()
    assert handlers, "no handler modules found"
    for area in _areas():
        for path in (WEB / area).glob("*.py"):
            for other, module in _imported_areas(path):
                if other in (area, "app", "runner"):
                    continue
                where = f"{path.relative_to(WEB)} imports {other}.{module}"
                assert area != "core" or other not in _areas(), where
                if other in _areas() and other != "core":
                    assert (other, module) not in handlers, where

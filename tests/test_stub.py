"""The typed stub of the compiled module stays in step with bindings/."""

from __future__ import annotations

import ast
from pathlib import Path

from mlwf_core import _core

STUB = Path(__file__).resolve().parents[1] / "mlwf_core" / "_core.pyi"


def _stub_names() -> set[str]:
    tree = ast.parse(STUB.read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return {n for n in names if not n.startswith("__")}


def test_stub_lists_every_public_binding():
    compiled = {n for n in dir(_core) if not n.startswith("__")}
    stub = _stub_names()
    assert compiled - stub == set(), (
        "regenerate mlwf_core/_core.pyi (pybind11-stubgen mlwf_core._core)"
    )
    assert stub - compiled - {"annotations"} == set()

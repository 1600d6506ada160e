"""LaTeX for derivatives (a first version; the renderer issue makes it complete)."""

from __future__ import annotations

from ..result import Derivative
from .text import derivative_text


def latex_text(result: Derivative) -> str:
    """The derivative as LaTeX: for now, the ASCII form in \\texttt."""
    text = derivative_text(result)
    escaped = text.replace("\\", r"\textbackslash{}").replace("_", r"\_").replace("^", r"\^{}")
    return rf"\texttt{{{escaped}}}"

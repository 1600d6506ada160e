"""The committed gallery (examples/README.md) is what scripts/gallery.py writes today."""

import importlib.util
from pathlib import Path

from helpers import without_rounding_noise

ROOT = Path(__file__).parent.parent


def load_gallery_script():
    spec = importlib.util.spec_from_file_location("gallery", ROOT / "scripts" / "gallery.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_gallery_equals_the_scripts_output():
    gallery = load_gallery_script()
    committed, written = (ROOT / "examples" / "README.md").read_text(), gallery.build(draw=False)
    assert without_rounding_noise(committed) == without_rounding_noise(written)


def test_the_gallery_shows_the_notes_examples():
    text = (ROOT / "examples" / "README.md").read_text()
    for expected in ("w = (XᵀX)⁻¹ Xᵀy", "sum(y) softmax(o) - y", "not differentiable where wᵀx + b = 0",
                     "at x=1: 2.0", "numerator layout", "denominator layout"):
        assert expected in text, expected
    for image in ("images/tangent.png", "images/contours.png"):
        assert (ROOT / "examples" / image).exists()

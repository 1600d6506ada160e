"""matcalc.plotting: the files it writes (size, format), the numbers it draws, and its errors.

The tests that write files skip only when matplotlib (the `plot` extra) is not installed;
the numbers and the errors are checked without it.
"""

import importlib.util
import struct
import sys
import xml.etree.ElementTree as ET

import pytest

from matcalc.errors import ExitStatus, InputError, MatcalcError, UnsupportedError
from matcalc.plotting import gradient_field, plot, tangent_line

needs_matplotlib = pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None,
                                      reason="the plot extra (matplotlib) is not installed")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which must come first."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    return struct.unpack(">II", data[16:24])


def svg_root(path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def points(length: str) -> float:
    assert length.endswith("pt")
    return float(length[:-2])


# the course notes' figure: f(x) = 3x^2 - 4x and its tangent y = 2x - 3 at x = 1

def test_tangent_line_of_the_course_example():
    assert tangent_line("3x^2 - 4x", "x", 1, let="x: scalar") == pytest.approx((2, -3))


def test_an_undeclared_variable_with_one_number_is_a_scalar():
    assert tangent_line("3x^2 - 4x", "x", "1") == pytest.approx((2, -3))


def test_tangent_line_of_a_function_with_a_where_name():
    # d/dx exp(sin(x)) = cos(x) exp(sin(x)); at 0: slope 1, f(0) = 1
    assert tangent_line("exp(sin(x))", "x", 0.0) == pytest.approx((1, 1))


@needs_matplotlib
def test_scalar_plot_is_a_png_of_the_expected_size(tmp_path):
    path = plot("3x^2 - 4x", "x", 1, tmp_path / "tangent.png", let="x: scalar")
    assert path == tmp_path / "tangent.png"
    assert png_size(path) == (640, 480)


@needs_matplotlib
def test_png_size_follows_inches_and_dpi(tmp_path):
    path = plot("3x^2 - 4x", "x", 1, tmp_path / "small.png", let="x: scalar",
                width_inches=4, height_inches=3, dpi=50)
    assert png_size(path) == (200, 150)


@needs_matplotlib
def test_scalar_plot_is_an_svg_of_the_expected_size(tmp_path):
    path = plot("3x^2 - 4x", "x", 1, str(tmp_path / "tangent.svg"), let="x: scalar")
    root = svg_root(path)
    assert points(root.get("width")) == pytest.approx(6.4 * 72)  # 460.8pt
    assert points(root.get("height")) == pytest.approx(4.8 * 72)  # 345.6pt
    text = path.read_text()
    assert "2x - 3" in text  # the tangent's equation in the legend, as text


@needs_matplotlib
def test_the_same_input_writes_the_same_svg(tmp_path):
    first = plot("3x^2 - 4x", "x", 1, tmp_path / "a.svg").read_bytes()
    assert plot("3x^2 - 4x", "x", 1, tmp_path / "b.svg").read_bytes() == first


@needs_matplotlib
def test_a_function_undefined_on_part_of_the_interval_is_drawn_where_it_is_defined(tmp_path):
    assert png_size(plot("log(x)", "x", 0.5, tmp_path / "log.png")) == (640, 480)
    assert png_size(plot("1/x", "x", 0.5, tmp_path / "pole.png")) == (640, 480)


# a scalar function of a 2-vector: contour lines and gradient arrows

@needs_matplotlib
@pytest.mark.parametrize("expression", ["x'x", "||x - ones(n)||^2"])
def test_vector_plot_is_a_png_of_the_expected_size(tmp_path, expression):
    path = plot(expression, "x", (0.5, -0.5), tmp_path / "contours.png")
    assert png_size(path) == (640, 480)


@needs_matplotlib
def test_vector_plot_as_svg_with_a_declared_size(tmp_path):
    root = svg_root(plot("log(sum(exp(x)))", "x", "0.5, -0.5", tmp_path / "lse.svg", let="x: vector(2)"))
    assert (points(root.get("width")), points(root.get("height"))) == pytest.approx((460.8, 345.6))


def test_gradient_field_is_the_analytic_gradient():
    arrows = gradient_field("x'x", "x", (0.5, -0.5), count=5)
    assert len(arrows) == 25
    assert ((0.5, -0.5), pytest.approx((1.0, -1.0))) in arrows  # the point itself carries an arrow
    for (x1, x2), gradient in arrows:
        assert gradient == pytest.approx((2 * x1, 2 * x2))


def test_gradient_field_of_a_shifted_norm():
    for (x1, x2), gradient in gradient_field("||x - ones(n)||^2", "x", [0.5, -0.5], count=3):
        assert gradient == pytest.approx((2 * (x1 - 1), 2 * (x2 - 1)))


def test_gradient_field_of_a_quartic():
    # f = (x'x)^2 + sum(x): gradient 4 (x'x) x + 1
    for (x1, x2), gradient in gradient_field("(x'x)^2 + sum(x)", "x", (1, 2), count=3):
        assert gradient == pytest.approx((4 * (x1**2 + x2**2) * x1 + 1, 4 * (x1**2 + x2**2) * x2 + 1))


# errors: InputError (exit status 2) with a message that says what to do

@pytest.mark.parametrize("expression, at, let, message", [
    ("tr(x'x)", (0.5, -0.5), "x: matrix(n, n)", "a function of a scalar or of a 2-vector, and x is matrix(n, n)"),
    ("x'x", (0.5, -0.5), "x: vector(3)", "x is vector(3)"),
    ("x'A x", (0.5, -0.5), None, "also has A: replace it with numbers"),
    ("a x + b", 1, "a: scalar, b: scalar", "also has a and b"),
    ("x'x", 1, "x: vector(2)", "x is a 2-vector, so the point is two numbers"),
    ("x^2", (1, 2), "x: scalar", "x is a scalar, so the point is one number, not 2"),
    ("y^2", 1, None, "the variable x does not appear in y^2"),
    ("sin(x)", (1, 2), None, "plot draws a scalar function, and sin(x) is vector(n)"),
    ("log(x)", -1, None, "log(x) is not defined at x = -1"),
    ("x'x + sum(ones(m))", (1, 2), None, "the dimension m in x'x + sum(ones(m)) has no size"),
    ("x^2", "one", None, "the point is a number or two numbers"),
    ("x^2", (1, 2, 3), None, "the point is a number or two finite numbers"),
    ("x^2", float("nan"), None, "two finite numbers"),
])
def test_input_errors(tmp_path, expression, at, let, message):
    with pytest.raises(InputError) as caught:
        plot(expression, "x", at, tmp_path / "out.png", let=let)
    assert isinstance(caught.value, MatcalcError) and caught.value.exit_code == ExitStatus.INPUT == 2
    assert message in caught.value.message
    assert not (tmp_path / "out.png").exists()


def test_an_inferred_matrix_variable_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match=r"and X is matrix\(n, m\)") as caught:
        plot("||X||^2", "X", (0.5, -0.5), tmp_path / "out.png")
    assert caught.value.exit_code == 2


@pytest.mark.parametrize("name", ["out.jpg", "out", "out.png.txt"])
def test_only_png_svg_and_pdf_are_written(tmp_path, name):
    with pytest.raises(InputError, match=r"plot writes \.png, \.svg or \.pdf files") as caught:
        plot("3x^2 - 4x", "x", 1, tmp_path / name, let="x: scalar")
    assert caught.value.exit_code == 2


def test_tangent_line_needs_a_scalar_variable():
    with pytest.raises(InputError, match="x is a 2-vector"):
        tangent_line("x'x", "x", (1, 2))


def test_gradient_field_needs_a_vector_variable():
    with pytest.raises(InputError, match="x is a scalar"):
        gradient_field("x^2", "x", 1)


def test_missing_matplotlib_says_how_to_install_it(tmp_path, monkeypatch):
    for name in ("matplotlib", "matplotlib.figure"):
        monkeypatch.setitem(sys.modules, name, None)  # `import matplotlib` now raises ImportError
    with pytest.raises(UnsupportedError) as caught:
        plot("3x^2 - 4x", "x", 1, tmp_path / "out.png", let="x: scalar")
    assert caught.value.message == "plotting needs matplotlib: pip install 'matcalc-symbolic[plot]'"
    assert caught.value.exit_code == ExitStatus.UNSUPPORTED == 3


@needs_matplotlib
def test_an_unwritable_path_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot write"):
        plot("3x^2 - 4x", "x", 1, tmp_path / "missing" / "out.png", let="x: scalar")


def test_the_point_may_be_written_as_diff_at_writes_it(tmp_path):
    # --at "x=1" as for `matcalc diff --at`; the slope there is still 2
    assert tangent_line("3x^2 - 4x", "x", "x=1", let="x: scalar") == pytest.approx((2.0, -3.0))
    with pytest.raises(InputError):
        tangent_line("3x^2 - 4x", "x", "y=1", let="x: scalar")


def test_a_plot_can_be_a_pdf(tmp_path, runner):
    """plot -o file.pdf: a PDF a paper can include, the same bytes for the same input."""
    from matcalc.cli import cli

    first, second = tmp_path / "a.pdf", tmp_path / "b.pdf"
    for path in (first, second):
        result = runner.invoke(cli, ["plot", "3x^2 - 4x", "--wrt", "x", "--at", "1", "-o", str(path),
                                     "--let", "x: scalar"])
        assert result.exit_code == 0, result.output
    assert first.read_bytes().startswith(b"%PDF") and first.read_bytes() == second.read_bytes()

"""The examples run (quick versions) and say what they claim."""
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run(name, *args):
    res = subprocess.run([sys.executable, str(EXAMPLES / name), "--quick", *args],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


def test_build_and_inspect_circuit():
    out = _run("build_and_inspect_circuit.py")
    lines = [l for l in out.splitlines() if l.startswith("max |")]
    assert len(lines) == 2 and all(float(l.split("=")[1]) < 1e-12 for l in lines)
    acc = float(out.split("test accuracy")[1].split()[0])
    assert acc > 0.15


def test_dynamic_mode(tmp_path):
    out = _run("dynamic_mode.py", "--out", str(tmp_path))
    rel = float(out.split("/ |dW2| =")[1].split()[0])
    assert rel < 0.2
    assert (tmp_path / "dynamic_mode.png").stat().st_size > 0

"""demo/ (``python -m demo``) without the simulator: the PNG writer and the argument checks.
The RTL part of the demo is what tests/test_digits.py runs (marked cocotb)."""

import numpy as np
import pytest
from PIL import Image

from demo.__main__ import main, write_png
from models.digits import load_split


def test_write_png(tmp_path):
    _, _, x_te, y_te = load_split()
    path = tmp_path / "demo.png"
    labels = [int(v) for v in y_te[:12]]
    preds = labels[:-1] + [(labels[-1] + 1) % 10]          # one wrong prediction (drawn in red)
    write_png(path, x_te[:12], labels, preds, [True] * 11 + [False])
    img = Image.open(path)
    assert img.size[0] >= 10 * 8 * 12 and img.size[1] > 2 * 8 * 12      # 10 per row, two rows
    px = np.asarray(img.convert("RGB"))
    assert ((px[..., 0] > 150) & (px[..., 1] < 50)).any()                 # red frame of the wrong one


@pytest.mark.parametrize("argv", [["-n", "0"], ["--start", "449", "-n", "2"]])
def test_bad_image_range(argv):
    with pytest.raises(SystemExit):
        main(argv)

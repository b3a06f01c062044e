"""Read a results PAE image back into Å with Pillow: an independent PNG decoder, not ours."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from services.results import pae_image


def decoded_pae(png: bytes) -> np.ndarray:
    """Return the PAE the image shows, in Å (each pixel's palette level x STEP)."""
    image = Image.open(io.BytesIO(png))
    assert image.mode == "P", image.mode
    palette = np.array(image.getpalette()[: 3 * pae_image.LEVELS], dtype=np.uint8).reshape(-1, 3)
    assert np.array_equal(palette, pae_image.PALETTE)
    return np.array(image, dtype=np.float32) * pae_image.STEP

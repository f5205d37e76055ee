"""Golden values for aq4svit's resize + centre crop: Pillow's own output, as torchvision's Resize(size) and
CenterCrop(crop) compute it on a PIL image (torchvision's size and offset rules written out below, so that
torchvision itself is not needed). Writes tests/AQ4SViT.Onnx.Tests/Fixtures/pil-resize.npz.

    /usr/bin/python3 tools/make_data_fixtures.py

Keys: case<i>_in (H, W) or (H, W, 3) uint8, case<i>_out the same after the transforms, case<i>_args [resize, crop]
(0: not applied). Made with numpy 1.24.2 and Pillow 9.4.0.
"""
import os

import numpy as np
from PIL import Image


def resized_size(h, w, size):
    # torchvision.transforms.functional._compute_resized_output_size for an int size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    return (new_long, new_short) if w <= h else (new_short, new_long)  # (h, w)


def center_crop(img, crop):
    # torchvision.transforms.functional.center_crop: zero padding when the crop is larger, then round-half-even offsets
    w, h = img.size
    pad_l = (crop - w) // 2 if crop > w else 0
    pad_t = (crop - h) // 2 if crop > h else 0
    pw, ph = max(w, crop), max(h, crop)
    top = int(round((ph - crop) / 2.0)) - pad_t
    left = int(round((pw - crop) / 2.0)) - pad_l
    return img.crop((left, top, left + crop, top + crop))  # PIL fills outside the image with 0


def main():
    rng = np.random.default_rng(20)
    cases = [((28, 28), 32, 32), ((37, 23), 16, 12), ((50, 40, 3), 24, 20), ((7, 9), 4, 0),
             ((20, 30, 3), 64, 60), ((10, 10), 0, 14), ((33, 17), 0, 8), ((90, 120, 3), 40, 36)]
    out = {}
    for i, (shape, resize, crop) in enumerate(cases):
        arr = rng.integers(0, 256, size=shape, dtype=np.uint8)
        img = Image.fromarray(arr)
        if resize:
            h, w = resized_size(arr.shape[0], arr.shape[1], resize)
            img = img.resize((w, h), Image.BILINEAR)
        if crop:
            img = center_crop(img, crop)
        out[f"case{i}_in"] = arr
        out[f"case{i}_out"] = np.asarray(img)
        out[f"case{i}_args"] = np.array([resize, crop], dtype=np.int32)
    path = os.path.join(os.path.dirname(__file__), "..", "tests", "AQ4SViT.Onnx.Tests", "Fixtures", "pil-resize.npz")
    np.savez_compressed(path, **out)
    print(f"wrote {os.path.normpath(path)}: {len(cases)} cases")


if __name__ == "__main__":
    main()

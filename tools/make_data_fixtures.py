"""Golden values for aq4svit's data room, made by Pillow (an independent decoder and resampler):

- pil-resize.npz: Pillow's own output of resize + centre crop, as torchvision's Resize(size) and CenterCrop(crop)
  compute it on a PIL image (torchvision's size and offset rules written out below, so that torchvision itself is not
  needed);
- pil-decode/a/*: small images in each format (JPEG 4:2:0 and 4:4:4, palette/RGB/RGBA PNG, BMP, lossless WebP) and
  pil-decode.npz: what Pillow's ImageFolder loader gives for them (convert('RGB')), one key per file name.

Both go to tests/AQ4SViT.Onnx.Tests/Fixtures/.

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
    write_decode_fixtures(os.path.dirname(path), rng)


def write_decode_fixtures(fixtures, rng):
    folder = os.path.join(fixtures, "pil-decode", "a")
    os.makedirs(folder, exist_ok=True)
    y, x = np.mgrid[0:24, 0:40]
    smooth = np.stack([(x * 6) % 256, (y * 9) % 256, ((x + y) * 5) % 256], -1).astype(np.uint8)
    img = Image.fromarray(smooth // 2 + rng.integers(0, 40, smooth.shape).astype(np.uint8))
    img.save(os.path.join(folder, "c420.jpg"), quality=90)
    img.save(os.path.join(folder, "c444.jpg"), quality=90, subsampling=0)
    img.save(os.path.join(folder, "rgb.png"))
    img.quantize(32).save(os.path.join(folder, "palette.png"))
    Image.fromarray(rng.integers(0, 256, (24, 40, 4), dtype=np.uint8), "RGBA").save(os.path.join(folder, "rgba.png"))
    img.save(os.path.join(folder, "rgb.bmp"))
    img.save(os.path.join(folder, "lossless.webp"), lossless=True)
    decoded = {name: np.asarray(Image.open(os.path.join(folder, name)).convert("RGB")) for name in sorted(os.listdir(folder))}
    np.savez_compressed(os.path.join(fixtures, "pil-decode.npz"), **decoded)
    print(f"wrote {folder}: {len(decoded)} images and pil-decode.npz")


if __name__ == "__main__":
    main()

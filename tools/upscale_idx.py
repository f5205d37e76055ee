#!/usr/bin/env python3
"""Write a small ImageNet-size evaluation set in the MNIST layout: the first N Fashion-MNIST test images, each
28x28 plane enlarged by an integer factor (nearest neighbour; 8 gives 224x224), with their labels.

  /usr/bin/python3 tools/upscale_idx.py --count 20 --factor 8 --out .data/fmnist224

With --grey-to-rgb aq4svit repeats the grey plane over a 3-channel model's input, so a 224x224 RGB model reads it.
Only for exercising ImageNet-size models (random weights): the labels mean nothing to them.
"""
import argparse
import gzip
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist  # noqa: E402


def write_idx(path, array):
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    with gzip.open(path, "wb", compresslevel=6) as f:
        f.write(header)
        f.write(np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=20, help="images (the first N of the test set)")
    ap.add_argument("--factor", type=int, default=8, help="integer enlargement (8: 28x28 -> 224x224)")
    ap.add_argument("--data", default=None, help="folder with t10k-*-ubyte[.gz] (default models/datasets/fashion-mnist)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    if args.count < 1 or args.factor < 1:
        ap.error("--count and --factor must be positive")

    data_dir = fmnist.find_dir("t10k", [args.data, fmnist.REPO_TEST_DIR, fmnist.SYSTEM_DIR])
    images = fmnist.read_idx(os.path.join(data_dir, "t10k-images-idx3-ubyte"))[:args.count]
    labels = fmnist.read_idx(os.path.join(data_dir, "t10k-labels-idx1-ubyte"))[:args.count]
    big = images.repeat(args.factor, axis=1).repeat(args.factor, axis=2)
    os.makedirs(args.out, exist_ok=True)
    write_idx(os.path.join(args.out, "t10k-images-idx3-ubyte.gz"), big)
    write_idx(os.path.join(args.out, "t10k-labels-idx1-ubyte.gz"), labels)
    print("wrote %d images of %dx%d to %s" % (big.shape[0], big.shape[1], big.shape[2], args.out))


if __name__ == "__main__":
    main()

"""Fashion-MNIST IDX (gzip or plain) reader. Images as float32 pixel/255, NCHW (N,1,28,28)."""
import gzip
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_TEST_DIR = os.path.join(os.path.dirname(HERE), "models", "datasets", "fashion-mnist")
SYSTEM_DIR = "/usr/share/datasets/fashion-mnist"


def _open(path):
    if os.path.exists(path):
        return open(path, "rb")
    if os.path.exists(path + ".gz"):
        return gzip.open(path + ".gz", "rb")
    raise FileNotFoundError(path + "[.gz]")


def read_idx(path):
    with _open(path) as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError("not an unsigned-byte IDX file: " + path)
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find_dir(prefix, dirs):
    for d in dirs:
        if d and (os.path.exists(os.path.join(d, prefix + "-images-idx3-ubyte"))
                  or os.path.exists(os.path.join(d, prefix + "-images-idx3-ubyte.gz"))):
            return d
    raise FileNotFoundError("no %s-images-idx3-ubyte[.gz] in %s" % (prefix, dirs))


def load(split, data_dir=None):
    """split 'train' or 't10k'. Looks in data_dir, then models/datasets/fashion-mnist, then the system dir.
    Returns (images float32 (N,1,28,28) in [0,1], labels int64 (N,), dir used)."""
    d = find_dir(split, [data_dir, REPO_TEST_DIR, SYSTEM_DIR])
    x = read_idx(os.path.join(d, split + "-images-idx3-ubyte")).astype(np.float32) / 255.0
    y = read_idx(os.path.join(d, split + "-labels-idx1-ubyte")).astype(np.int64)
    return x[:, None, :, :], y, d

#!/usr/bin/env python3
"""A tiny DVS-style fixture: a spiking model whose input carries time, and event frames to feed it.

Model (plain PyTorch; the LIF is tools/svit.py's, which computes as SpikingJelly 0.0.0.0.12's MultiStepLIFNode:
per step v = v + (x - v) / tau, s = (v - 1.0 >= 0).float(), hard reset v = (1 - s) * v + s * 0.0, the loop over T
unrolled by the exporter):
    frames (T, B, 2, 32, 32) -> Conv 2->8, kernel 4, stride 4 (per step) -> LIF -> flatten -> Linear 512->4
    -> mean over T -> logits (B, 4)
Trained a few hundred steps (surrogate gradient) on random event frames whose label is the quadrant with the
most events, so that its accuracy on the fixture is well above chance (25%).

Writes (T = 4, frames 2x32x32, event counts stored as uint8):
  models/tests/dvs-tb/model.onnx   input 'frames' [T, batch, 2, 32, 32]  (TorchScript exporter, opset 17)
  models/tests/dvs-bt/model.onnx   input 'frames' [batch, T, 2, 32, 32]  (same weights; transposed first)
  models/tests/dvs-*/card.json, reference-logits.csv (PyTorch fp32 CPU logits of samples 0-7, %.9g)
  models/tests/dvs-data/frames.npy [N, T, 2, 32, 32] uint8 + labels.npy [N] int64
  models/tests/dvs-data/frames/c<k>/sample_<i>.npz  key 'frames' [T, 2, 32, 32] (SpikingJelly's per-sample frame files)

The dynamo exporter needs torch >= 2.5; Debian's torch 1.13 (what this was made with) has none, so only
TorchScript exports are written.

Run: /usr/bin/python3 tools/make_dvs_fixture.py
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import svit  # noqa: E402

T = 4
CLASSES = 4
SIZE = 32


class DvsNet(nn.Module):
    def __init__(self, batch_first=False):
        super().__init__()
        self.batch_first = batch_first
        self.conv = nn.Conv2d(2, 8, 4, 4)
        self.lif = svit.LIF(tau=2.0, v_threshold=1.0, v_reset=0.0, decay_input=True)
        self.fc = nn.Linear(8 * 8 * 8, CLASSES)

    def forward(self, x):
        if self.batch_first:            # (B, T, 2, H, W) -> (T, B, 2, H, W)
            x = x.transpose(0, 1)
        x = svit.seq_apply(self.conv, x)  # (T, B, 8, 8, 8)
        s = self.lif(x)
        y = self.fc(s.flatten(2))         # (T, B, CLASSES)
        return y.mean(0)


def make_frames(rng, n):
    """Event counts (n, T, 2, 32, 32) uint8 and labels: label k's quadrant has a higher event rate."""
    labels = rng.integers(0, CLASSES, size=n)
    rate = np.full((n, T, 2, SIZE, SIZE), 0.08)
    h = SIZE // 2
    for i, k in enumerate(labels):
        r, c = divmod(int(k), 2)
        rate[i, :, :, r * h:(r + 1) * h, c * h:(c + 1) * h] = 0.1
    counts = rng.poisson(rate).astype(np.uint8)
    return counts, labels.astype(np.int64)


def train(model, seed):
    rng = np.random.default_rng(seed + 1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for step in range(60):
        x, y = make_frames(rng, 64)
        xt = torch.from_numpy(x.astype(np.float32)).transpose(0, 1)  # (T, B, ...)
        loss = nn.functional.cross_entropy(model(xt), torch.from_numpy(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    return float(loss)


def export(model, example, path, batch_axis):
    torch.onnx.export(model, (example,), path, opset_version=17, input_names=["frames"], output_names=["logits"],
                      dynamic_axes={"frames": {batch_axis: "batch"}, "logits": {0: "batch"}}, do_constant_folding=True)


def card(name, layout, shape, params, top1, ort_diff):
    return {
        "name": name,
        "architecture": "dvs-conv-lif",
        "time_steps": T,
        "lif": {"tau": 2.0, "v_threshold": 1.0, "v_reset": 0.0, "reset": "hard", "decay_input": True,
                "detach_reset": True},
        "dataset": None,
        "num_classes": CLASSES,
        "input": {"name": "frames", "shape": shape, "scaling": "none", "layout": layout,
                  "encoding": "frames (event counts per time step, fed as float as they are)"},
        "output": {"name": "logits", "meaning": "mean over T of the head's logits (no softmax)"},
        "exporter": "torchscript",
        "exporter_note": "dynamo export skipped: torch %s has no dynamo ONNX exporter (needs torch >= 2.5)" % torch.__version__,
        "torch_version": torch.__version__,
        "opset": 17,
        "params": params,
        "weights": "trained 60 steps (Adam, surrogate gradient) on random frames, seed 11",
        "top1_torch": top1,
        "test_images": "models/tests/dvs-data (frames.npy + labels.npy)",
        "ort_check": ort_diff,
        "reference_logits": "reference-logits.csv: PyTorch fp32 CPU logits of samples 0-7 of models/tests/dvs-data/frames.npy, one row per sample, no header",
        "command": {"export": "/usr/bin/python3 tools/make_dvs_fixture.py"},
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out-root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "tests"))
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    torch.set_num_threads(1)  # one thread: the same weights on every run
    torch.manual_seed(args.seed)
    model = DvsNet()
    loss = train(model, args.seed)
    frames, labels = make_frames(np.random.default_rng(args.seed), args.samples)
    x = torch.from_numpy(frames.astype(np.float32))
    with torch.no_grad():
        logits = model(x.transpose(0, 1)).numpy()
    top1 = float((logits.argmax(1) == labels).mean())
    print("final train loss %.4f, top-1 on the fixture %.4f" % (loss, top1))

    data = os.path.join(args.out_root, "dvs-data")
    os.makedirs(data, exist_ok=True)
    np.save(os.path.join(data, "frames.npy"), frames)
    np.save(os.path.join(data, "labels.npy"), labels)
    for i in range(args.samples):
        folder = os.path.join(data, "frames", "c%d" % labels[i])
        os.makedirs(folder, exist_ok=True)
        np.savez_compressed(os.path.join(folder, "sample_%04d.npz" % i), frames=frames[i])

    params = sum(p.numel() for p in model.parameters())
    for name, batch_first in (("dvs-tb", False), ("dvs-bt", True)):
        out = os.path.join(args.out_root, name)
        os.makedirs(out, exist_ok=True)
        m = DvsNet(batch_first)
        m.load_state_dict(model.state_dict())
        m.eval()
        example = x[:2] if batch_first else x[:2].transpose(0, 1).contiguous()
        path = os.path.join(out, "model.onnx")
        export(m, example, path, 0 if batch_first else 1)
        with torch.no_grad():
            ref = m(x[:8] if batch_first else x[:8].transpose(0, 1)).numpy()
        assert np.allclose(ref, logits[:8], atol=1e-6)
        np.savetxt(os.path.join(out, "reference-logits.csv"), ref, fmt="%.9g", delimiter=",")
        ort_diff = None
        try:
            import onnxruntime as ort
            sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            feed = frames[:8].astype(np.float32) if batch_first else frames[:8].astype(np.float32).transpose(1, 0, 2, 3, 4)
            got = sess.run(None, {"frames": np.ascontiguousarray(feed)})[0]
            ort_diff = {"max_abs_diff": float(np.abs(got - ref).max()), "samples": 8}
        except ImportError:
            ort_diff = {"skipped": "onnxruntime not installed for this python; tests/AQ4SViT.Onnx.Tests/Models/DvsModelTests.cs "
                                   "checks ONNX Runtime (C#) and the simulator against reference-logits.csv"}
        shape = [-1, T, 2, SIZE, SIZE] if batch_first else [T, -1, 2, SIZE, SIZE]
        with open(os.path.join(out, "card.json"), "w") as f:
            json.dump(card(name, "BTCHW" if batch_first else "TBCHW", shape, params, top1, ort_diff), f, indent=2)
            f.write("\n")
        print("wrote", out)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Tiny ONNX graphs for LIF-recognition tests, each exported with both exporters.

Graph: input (B,1,8,8) -> repeat over T=4 -> Conv3x3(1->4, pad 1)-BN -> LIF(variant) -> flatten
       -> Linear(256->10) -> mean over T -> logits (B,10).
Random fixed-seed weights; BN set so the LIF fires at a moderate rate (rate printed and stored).

Writes into OUT (default models/tests/lif-cases):
  <variant>-torchscript.onnx   TorchScript exporter, opset 17, dynamic batch
  <variant>-dynamo.onnx        dynamo exporter, opset 18, weights embedded (no .data file), dynamic batch
                               (fixed batch 2 if dynamic export fails; cases.json says which)
  input.csv                    the fixed random input, B=2 rows of 64 values (row = one image, 8x8 row-major)
  expected-<variant>.csv       PyTorch fp32 CPU outputs on input.csv, B rows of 10 values, no header, %.9g
  cases.json                   every file with its LIF parameters, input/expected files, ORT check results

With --other-sizes (default on) also writes small random-weight models for "other sizes" parity tests
into OUT/.. (models/tests/): spikformer-d64 / sdt-d64 (dim 64, depth 1, heads 4), each as a TorchScript
folder (dynamic batch) and a dynamo folder (fixed batch 1, weights in model.onnx.data), via export.py.
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export as ex  # noqa: E402
import svit  # noqa: E402

T = 4
BATCH = 2

VARIANTS = [
    # name, LIF kwargs, broken
    ("default", dict(tau=2.0, v_threshold=1.0, v_reset=0.0, decay_input=True), False),
    ("tau3-thr0.7-nodecay", dict(tau=3.0, v_threshold=0.7, v_reset=0.0, decay_input=False), False),
    ("tau1.5-thr1.2-vreset-0.2", dict(tau=1.5, v_threshold=1.2, v_reset=-0.2, decay_input=True), False),
    ("soft-tau2-thr1", dict(tau=2.0, v_threshold=1.0, v_reset=None, decay_input=True), False),
    ("soft-tau4-thr0.5-nodecay", dict(tau=4.0, v_threshold=0.5, v_reset=None, decay_input=False), False),
    ("broken", dict(tau=2.0, v_threshold=1.0, v_reset=0.0, decay_input=True), True),
]


class LifCase(nn.Module):
    def __init__(self, lif_kwargs, broken=False):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.lif = svit.BrokenLIF(**lif_kwargs) if broken else svit.LIF(**lif_kwargs)
        self.fc = nn.Linear(256, 10)

    def forward(self, x):  # (B,1,8,8)
        x = x.unsqueeze(0).repeat(T, 1, 1, 1, 1)
        x = svit.seq_apply(lambda z: self.bn(self.conv(z)), x)  # (T,B,4,8,8)
        s = self.lif(x)
        y = self.fc(s.flatten(2))                                 # (T,B,10)
        return y.mean(0)


def build_case(lif_kwargs, broken, seed):
    torch.manual_seed(seed)
    m = LifCase(lif_kwargs, broken)
    g = torch.Generator().manual_seed(seed + 1000)
    with torch.no_grad():
        m.conv.weight.copy_(torch.randn(4, 1, 3, 3, generator=g) * 0.4)
        # BN: running stats and affine chosen so pre-activations are ~N(thr*0.6, thr*0.8) -> moderate firing
        thr = lif_kwargs["v_threshold"]
        m.bn.running_mean.copy_(torch.randn(4, generator=g) * 0.1 + 0.3)
        m.bn.running_var.copy_(torch.rand(4, generator=g) * 0.5 + 0.5)
        m.bn.weight.copy_((torch.rand(4, generator=g) * 0.5 + 0.75) * thr * 1.5)
        m.bn.bias.copy_((torch.rand(4, generator=g) * 0.4 + 0.4) * thr)
        m.fc.weight.copy_(torch.randn(10, 256, generator=g) * 0.1)
        m.fc.bias.copy_(torch.randn(10, generator=g) * 0.1)
    return m.eval()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models", "tests")
    ap.add_argument("--out", default=os.path.join(root, "lif-cases"))
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--no-other-sizes", action="store_true")
    ap.add_argument("--threads", type=int, default=4, help="ORT threads for the other-size models")
    ap.add_argument("--data", default=None, help="folder with t10k-* for the other-size models")
    args = ap.parse_args(argv)

    out = args.out
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    dyn = ex.has_dynamo_exporter()
    if not dyn:
        print("SKIP dynamo flavour of every LIF case: torch %s has no dynamo ONNX exporter" % torch.__version__, flush=True)
    if ex.ort is None:
        print("SKIP ORT checks: onnxruntime not installed for %s" % sys.executable, flush=True)

    rng = np.random.default_rng(args.seed)
    x = rng.random((BATCH, 1, 8, 8), dtype=np.float32)
    ex.write_csv(os.path.join(out, "input.csv"), x)
    xt = torch.from_numpy(x)

    cases = {"description": "LIF recognition fixtures: input (B,1,8,8) -> repeat T=4 -> Conv3x3(1->4)-BN -> LIF -> "
                            "flatten -> Linear(256->10) -> mean over T",
             "time_steps": T, "input_file": "input.csv", "input_shape": list(x.shape),
             "input_format": "CSV, one row per batch item, 64 values (8x8 row-major), %%.9g, no header; "
                             "numpy default_rng(%d).random((2,1,8,8), float32)" % args.seed,
             "expected_format": "CSV expected-<variant>.csv: PyTorch fp32 CPU outputs (B rows x 10), %.9g, no header",
             "tolerance": ex.TOL, "torch_version": torch.__version__, "cases": []}
    for i, (name, lk, broken) in enumerate(VARIANTS):
        m = build_case(lk, broken, args.seed + i)
        with torch.no_grad():
            y = m(xt).numpy()
            rate = svit.firing_rates(m, xt)["lif"]
        ex.write_csv(os.path.join(out, "expected-%s.csv" % name), y)
        lifp = {"tau": lk["tau"], "v_threshold": lk["v_threshold"], "v_reset": lk["v_reset"],
                "reset": "soft" if lk["v_reset"] is None else "hard", "decay_input": lk["decay_input"],
                "detach_reset": True}
        entry = {"variant": name, "is_lif": not broken, "lif": lifp, "firing_rate": round(rate, 4),
                 "expected_file": "expected-%s.csv" % name, "files": []}
        if broken:
            entry["note"] = ("NOT a LIF: fires with strict '>' (Greater) and resets by v = v - s * v * 0.5; "
                             "lif parameters are those it was built from and must not be recognised")
        print("%-28s firing rate %.3f" % (name, rate), flush=True)
        flavours = [("torchscript", None)] + ([("dynamo", None)] if dyn else [])
        for exporter, _ in flavours:
            fname = "%s-%s.onnx" % (name, exporter)
            path = os.path.join(out, fname)
            try:
                if exporter == "torchscript":
                    ex.export_torchscript(m, xt, path, opset=17, dynamic_batch=True)
                    batch = "batch"
                else:
                    batch = ex.export_dynamo(m, xt, path, opset=18, fixed_batch=0, external_data=False)
            except Exception as e:
                print("  %s: export FAILED: %s: %s" % (fname, type(e).__name__, str(e)[:300]), flush=True)
                entry["files"].append({"file": fname, "exporter": exporter, "error": str(e)[:300]})
                continue
            ex.onnx.checker.check_model(path)
            f = {"file": fname, "exporter": exporter, "opset": ex.model_opset(path),
                 "input": dict(zip(["name", "shape"], ex.input_shape(path))),
                 "weights": "embedded", "batch": batch, "bytes": os.path.getsize(path), "ops": ex.op_counts(path)}
            if ex.ort is not None:
                sess = ex.ort_session(path)
                got = ex.ort_run(sess, x, None if batch == "batch" else int(batch))
                f["ort_check"] = ex.compare(got, y)
                print("  %-40s ORT max|diff| %.3g %s" % (fname, f["ort_check"]["max_abs_diff"],
                                                          "OK" if f["ort_check"]["passed"] else "FAILED"), flush=True)
            else:
                f["ort_check"] = {"skipped": True}
                print("  %-40s written (no ORT check)" % fname, flush=True)
            entry["files"].append(f)
        cases["cases"].append(entry)
    with open(os.path.join(out, "cases.json"), "w") as fh:
        json.dump(cases, fh, indent=2)
    print("wrote %s" % out, flush=True)

    if not args.no_other_sizes:
        tests_root = os.path.dirname(os.path.abspath(out))
        common = ["--random", "--dim", "64", "--depth", "1", "--heads", "4", "--seed", "7", "--out-root", tests_root,
                  "--threads", str(args.threads)]
        if args.data:
            common += ["--data", args.data]
        for arch, name in (("spikformer", "spikformer-d64"), ("sdt", "sdt-d64")):
            ex_args = common + ["--arch", arch, "--exporter", "both", "--name", name,
                                "--dynamo-name", name + "-dynamo", "--fixed-batch", "1"]
            print("export.py " + " ".join(ex_args), flush=True)
            try:
                ex.main(ex_args)
            except SystemExit as e:
                if e.code:
                    print("export.py for %s exited %s" % (name, e.code), flush=True)


if __name__ == "__main__":
    main()

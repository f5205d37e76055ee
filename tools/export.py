#!/usr/bin/env python3
"""Export a Spikformer / Spike-driven Transformer to ONNX with both PyTorch exporters.

  TorchScript exporter: torch.onnx.export(..., dynamo=False, opset_version=17), dynamic batch axis.
  dynamo exporter:      torch.onnx.export(..., dynamo=True), opset 18, weights in model.onnx.data,
                        dynamic batch via dynamic_shapes (or --fixed-batch N).

Each flavour is exported into a scratch folder, checked with onnx.checker, run with ONNX Runtime on test
images and compared with PyTorch fp32 CPU logits (max |diff| <= 1e-4 and same argmax), its ORT top-1
is computed on the whole test set, and only then it is moved to OUT_ROOT/NAME (TorchScript) or
OUT_ROOT/DYNAMO_NAME (dynamo) with card.json and reference-logits.csv (PyTorch fp32 CPU logits of test
images 0-99, one row per image, no header, %.9g).

On torch < 2 (e.g. Debian's torch 1.13) the dynamo flavour is skipped with a message; without
onnxruntime the ORT checks are skipped with a message (and the card says so).
"""
import argparse
import inspect
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections import Counter

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist  # noqa: E402
import svit  # noqa: E402

try:
    import onnx
except ImportError:  # pragma: no cover
    onnx = None
try:
    import onnxruntime as ort
except ImportError:
    ort = None

TOL = 1e-4


# --------------------------------------------------------------------------------------------
# exporter helpers (shared with export_lif_cases.py)
# --------------------------------------------------------------------------------------------
def has_dynamo_exporter():
    try:
        return "dynamo" in inspect.signature(torch.onnx.export).parameters
    except (TypeError, ValueError):
        return False


def export_torchscript(model, example, path, opset=17, dynamic_batch=True, input_name="input", output_name="logits"):
    kw = dict(opset_version=opset, input_names=[input_name], output_names=[output_name],
              do_constant_folding=True)
    if dynamic_batch:
        kw["dynamic_axes"] = {input_name: {0: "batch"}, output_name: {0: "batch"}}
    if has_dynamo_exporter():
        kw["dynamo"] = False
    with torch.no_grad():
        torch.onnx.export(model, (example,), path, **kw)


def _dynamo_program(model, example, opset, dynamic_batch, input_name, output_name):
    kw = dict(dynamo=True, opset_version=opset, input_names=[input_name], output_names=[output_name])
    if dynamic_batch:
        kw["dynamic_shapes"] = ({0: torch.export.Dim("batch", min=1, max=4096)},)
    with torch.no_grad():
        return torch.onnx.export(model, (example,), **kw)


def export_dynamo(model, example, path, opset=18, fixed_batch=0, external_data=True,
                  input_name="input", output_name="logits"):
    """Returns the batch used: 'batch' (dynamic) or an int. Weights in <basename>.data when external_data."""
    if not has_dynamo_exporter():
        raise RuntimeError("torch %s has no dynamo ONNX exporter (needs torch >= 2.5)" % torch.__version__)
    batch = "batch"
    if fixed_batch:
        example = example[:fixed_batch]
        prog = _dynamo_program(model, example, opset, False, input_name, output_name)
        batch = fixed_batch
    else:
        try:
            prog = _dynamo_program(model, example, opset, True, input_name, output_name)
        except Exception as e:  # fall back to a fixed batch of 1
            print("dynamo export with dynamic batch failed (%s: %s); falling back to fixed batch 1"
                  % (type(e).__name__, str(e)[:300]), flush=True)
            prog = _dynamo_program(model, example[:1], opset, False, input_name, output_name)
            batch = 1
    folder = os.path.dirname(os.path.abspath(path))
    data_name = os.path.basename(path) + ".data"
    if external_data:
        try:
            prog.save(path, external_data=True)
        except TypeError:
            prog.save(path)
        if not os.path.exists(os.path.join(folder, data_name)):
            # re-save with onnx's external-data helpers under the expected name
            m = onnx.load(path)
            for f in os.listdir(folder):
                if f.endswith(".data"):
                    os.remove(os.path.join(folder, f))
            onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True,
                            location=data_name, size_threshold=0)
    else:
        prog.save(path, external_data=False)
    return batch


def move_to_external_data(path):
    """Re-saves PATH with every initializer in PATH.data (one file, offsets aligned by onnx's helper)."""
    folder = os.path.dirname(os.path.abspath(path))
    data_name = os.path.basename(path) + ".data"
    m = onnx.load(path)
    if os.path.exists(os.path.join(folder, data_name)):
        os.remove(os.path.join(folder, data_name))
    onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=data_name, size_threshold=0)


def op_counts(path):
    m = onnx.load(path, load_external_data=False)
    c = Counter(n.op_type for n in m.graph.node)
    return dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))


def model_opset(path):
    m = onnx.load(path, load_external_data=False)
    for o in m.opset_import:
        if o.domain in ("", "ai.onnx"):
            return int(o.version)
    return None


def input_shape(path):
    m = onnx.load(path, load_external_data=False)
    inp = m.graph.input[0]
    dims = []
    for d in inp.type.tensor_type.shape.dim:
        dims.append(int(d.dim_value) if d.HasField("dim_value") else -1)
    return inp.name, dims


def ort_session(path, threads=0):
    so = ort.SessionOptions()
    if threads:
        so.intra_op_num_threads = threads
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def ort_run(sess, x, fixed_batch=None, chunk=500):
    """Run an ORT session over x (N,...) in chunks (of fixed_batch when the graph has a fixed batch)."""
    name = sess.get_inputs()[0].name
    step = fixed_batch or chunk
    outs = []
    for i in range(0, x.shape[0], step):
        xb = x[i:i + step]
        if fixed_batch and xb.shape[0] != fixed_batch:  # pad the last chunk
            pad = np.zeros((fixed_batch - xb.shape[0],) + xb.shape[1:], dtype=xb.dtype)
            outs.append(sess.run(None, {name: np.concatenate([xb, pad])})[0][:xb.shape[0]])
        else:
            outs.append(sess.run(None, {name: xb})[0])
    return np.concatenate(outs)


def compare(a, b, tol=TOL):
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
    per_image = diff.reshape(diff.shape[0], -1).max(1)
    return {"max_abs_diff": float(diff.max()), "argmax_agree": int((a.argmax(-1) == b.argmax(-1)).sum()),
            "images": int(a.shape[0]), "images_over_tol": int((per_image > tol).sum()), "tolerance": tol,
            "passed": bool(diff.max() <= tol and (a.argmax(-1) == b.argmax(-1)).all())}


def write_csv(path, arr):
    with open(path, "w") as f:
        for row in arr.reshape(arr.shape[0], -1):
            f.write(",".join("%.9g" % float(v) for v in row) + "\n")


@torch.no_grad()
def torch_logits(model, x, device="cpu", batch=500):
    model = model.to(device).eval()
    out = []
    for i in range(0, x.shape[0], batch):
        out.append(model(torch.from_numpy(x[i:i + batch]).to(device)).float().cpu().numpy())
    model.to("cpu")
    return np.concatenate(out)


def file_sizes(folder):
    return {f: os.path.getsize(os.path.join(folder, f)) for f in sorted(os.listdir(folder))}


# --------------------------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--ckpt", help="checkpoint prefix written by train.py (PREFIX.pt + PREFIX.json)")
    src.add_argument("--random", action="store_true", help="random weights, BN randomised so LIFs fire")
    ap.add_argument("--arch", choices=["spikformer", "sdt"], default="spikformer", help="with --random")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--depth", type=int, default=1)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--time-steps", type=int, default=4)
    ap.add_argument("--imagenet", action="store_true", help="with --random: 224x224x3, 1000 classes, 4 maxpools "
                    "(use --dim 768 --depth 8 --heads 12 for Spikformer-8-768 / SDT-8-768)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--exporter", choices=["torchscript", "dynamo", "both"], default="both")
    ap.add_argument("--out-root", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models"))
    ap.add_argument("--name", required=True, help="folder name of the TorchScript flavour (and of dynamo with --exporter dynamo)")
    ap.add_argument("--dynamo-name", default=None, help="folder name of the dynamo flavour (default NAME-dynamo with --exporter both)")
    ap.add_argument("--fixed-batch", type=int, default=0, help="dynamo: export at this fixed batch (0 = dynamic batch)")
    ap.add_argument("--embed-weights", action="store_true", help="dynamo: keep weights inside model.onnx")
    ap.add_argument("--external-data", action="store_true", help="TorchScript: move the weights into model.onnx.data "
                    "(onnx's external-data helpers), as the dynamo flavour does; works on torch 1.13 too")
    ap.add_argument("--data", default=None, help="folder with t10k-*-ubyte[.gz] (default models/datasets/fashion-mnist)")
    ap.add_argument("--check-images", type=int, default=100, help="test images for the ORT-vs-PyTorch logit check")
    ap.add_argument("--test-limit", type=int, default=0, help="evaluate top-1 on only the first N test images (smoke tests)")
    ap.add_argument("--skip-ort-top1", action="store_true", help="do not compute ORT top-1 on the test set")
    ap.add_argument("--threads", type=int, default=0, help="ORT intra-op threads (0 = ORT default)")
    ap.add_argument("--strict", action="store_true", help="do not write a flavour whose ORT check fails")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="for the PyTorch top-1")
    args = ap.parse_args(argv)
    export_cmd = "python3 tools/export.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))

    torch.manual_seed(args.seed)
    train_record = None
    if args.ckpt:
        with open(args.ckpt + ".json") as f:
            train_record = json.load(f)
        cfg = train_record["config"]
        model = svit.build_model(cfg)
        model.load_state_dict(torch.load(args.ckpt + ".pt", map_location="cpu"))
    else:
        if args.imagenet:
            cfg = svit.imagenet_config(args.arch, dim=args.dim, depth=args.depth, heads=args.heads)
        else:
            cfg = svit.make_config(args.arch, dim=args.dim, depth=args.depth, heads=args.heads,
                                   time_steps=args.time_steps)
        model = svit.build_model(cfg)
    model.eval()
    size, chans = cfg["image_size"], cfg["in_channels"]
    is_fmnist = size == 28 and chans == 1

    # data: Fashion-MNIST test set for 28x28x1 models, random images otherwise
    if is_fmnist:
        xte, yte, data_dir = fmnist.load("t10k", args.data)
        if args.test_limit:
            xte, yte = xte[:args.test_limit], yte[:args.test_limit]
        print("test set %s from %s" % (xte.shape, data_dir), flush=True)
    else:
        g = np.random.default_rng(args.seed)
        xte = g.random((max(args.check_images, 2), chans, size, size), dtype=np.float32)
        yte = None
    xcheck = np.ascontiguousarray(xte[:args.check_images])

    if args.random:
        calib = torch.from_numpy(np.ascontiguousarray(xte[:64 if is_fmnist else 2]))
        svit.randomize_bn(model, calib, seed=args.seed, layerwise=is_fmnist)
        model.eval()
        rates = svit.firing_rates(model, calib)
        print("LIF firing rates (random weights): min %.3f max %.3f mean %.3f" % (
            min(rates.values()), max(rates.values()), sum(rates.values()) / len(rates)), flush=True)

    nparams = svit.count_params(model)
    print("%s dim %d depth %d heads %d T %d: %d params" % (cfg["arch"], cfg["dim"], cfg["depth"], cfg["heads"],
                                                         cfg["time_steps"], nparams), flush=True)

    # PyTorch references
    t0 = time.time()
    ref = torch_logits(model, xcheck, "cpu")
    top1_torch = None
    if yte is not None:
        if args.device.startswith("cuda"):
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
        logits = torch_logits(model, xte, args.device)
        top1_torch = float((logits.argmax(1) == yte).mean())
        print("PyTorch fp32 top-1 on %d test images (%s): %.4f  (%.1fs)" % (len(yte), args.device, top1_torch,
                                                                          time.time() - t0), flush=True)

    flavours = []
    if args.exporter in ("torchscript", "both"):
        flavours.append(("torchscript", args.name))
    if args.exporter in ("dynamo", "both"):
        dname = args.dynamo_name or (args.name + "-dynamo" if args.exporter == "both" else args.name)
        if has_dynamo_exporter():
            flavours.append(("dynamo", dname))
        else:
            print("SKIP dynamo flavour '%s': torch %s has no dynamo ONNX exporter (torch.onnx.export has no "
                  "'dynamo' argument); only the TorchScript flavour is written" % (dname, torch.__version__), flush=True)
    if ort is None:
        print("SKIP ORT checks: onnxruntime is not installed for %s; cards get top1_ort = null and "
              "ort_check.skipped = true" % sys.executable, flush=True)

    failures = 0
    example = torch.from_numpy(np.ascontiguousarray(xte[:2]))
    for exporter, name in flavours:
        tmp = tempfile.mkdtemp(prefix="export-" + name + "-")
        path = os.path.join(tmp, "model.onnx")
        t0 = time.time()
        if exporter == "torchscript":
            export_torchscript(model, example, path, opset=17, dynamic_batch=True)
            batch = "batch"
            if args.external_data:
                move_to_external_data(path)
        else:
            try:
                batch = export_dynamo(model, example, path, opset=18, fixed_batch=args.fixed_batch,
                                      external_data=not args.embed_weights)
            except Exception as e:
                import traceback
                traceback.print_exc()
                print("[%s] dynamo export FAILED (%s: %s); flavour not written" % (name, type(e).__name__, str(e)[:500]),
                      flush=True)
                failures += 1
                shutil.rmtree(tmp)
                continue
        export_s = time.time() - t0
        onnx.checker.check_model(path)
        opset = model_opset(path)
        in_name, in_shape = input_shape(path)
        ops = op_counts(path)
        print("[%s] exported %s in %.1fs: opset %d, input %s %s, %d nodes" % (
            name, exporter, export_s, opset, in_name, in_shape, sum(ops.values())), flush=True)

        check = {"skipped": True, "reason": "onnxruntime not installed"}
        top1_ort = None
        if ort is not None:
            sess = ort_session(path, args.threads)
            fb = None if batch == "batch" else int(batch)
            got = ort_run(sess, xcheck, fb)
            check = compare(got, ref)
            check["skipped"] = False
            print("[%s] ORT vs PyTorch on %d images: max|diff| %.3g, argmax agree %d/%d, over tol %d -> %s" % (
                name, check["images"], check["max_abs_diff"], check["argmax_agree"], check["images"],
                check["images_over_tol"], "OK" if check["passed"] else "FAILED"), flush=True)
            if yte is not None and not args.skip_ort_top1:
                t1 = time.time()
                ol = ort_run(sess, xte, fb)
                top1_ort = float((ol.argmax(1) == yte).mean())
                if top1_torch is not None:
                    check["full_test_argmax_agree_with_torch"] = int((ol.argmax(1) == logits.argmax(1)).sum())
                print("[%s] ORT top-1 on %d test images: %.4f  (%.1fs)" % (name, len(yte), top1_ort,
                                                                         time.time() - t1), flush=True)
            if not check["passed"]:
                failures += 1
                if args.strict:
                    print("[%s] NOT written (--strict)" % name, flush=True)
                    shutil.rmtree(tmp)
                    continue

        card = {
            "name": name,
            "architecture": cfg["arch"],
            "dim": cfg["dim"], "depth": cfg["depth"], "heads": cfg["heads"], "mlp_ratio": cfg["mlp_ratio"],
            "time_steps": cfg["time_steps"],
            "lif": {"tau": cfg["tau"], "v_threshold": cfg["v_threshold"], "v_reset": cfg["v_reset"],
                    "reset": "soft" if cfg["v_reset"] is None else "hard", "decay_input": cfg["decay_input"],
                    "detach_reset": True, "attention_v_threshold": cfg["attention_v_threshold"]},
            "dataset": "fashion-mnist" if is_fmnist else None,
            "num_classes": cfg["num_classes"],
            "input": {"name": in_name, "shape": in_shape, "scaling": "pixel/255", "layout": "NCHW"},
            "output": {"name": "logits", "meaning": "mean over T of the head's logits (no softmax)"},
            "exporter": exporter,
            "torch_version": torch.__version__,
            "onnx_version": onnx.__version__,
            "opset": opset,
            "external_data": ("model.onnx.data" if (exporter == "dynamo" and not args.embed_weights)
                              or (exporter == "torchscript" and args.external_data) else None),
            "params": nparams,
            "weights": "trained" if args.ckpt else "random (seed %d, BN randomised)" % args.seed,
            "top1_torch": top1_torch,
            "top1_ort": top1_ort,
            "test_images": None if yte is None else int(len(yte)),
            "ort_check": check,
            "reference_logits": "reference-logits.csv: PyTorch fp32 CPU logits of test images 0-%d, one row per image, "
                                "comma-separated, no header" % (len(xcheck) - 1),
            "ops": ops,
            "training": None,
            "command": {"export": export_cmd},
        }
        if not is_fmnist:
            card["reference_logits"] = ("reference-logits.csv: PyTorch fp32 CPU logits of random images "
                                        "(numpy default_rng(%d).random(shape), float32), no header" % args.seed)
        if train_record:
            tr = train_record["training"]
            card["training"] = {"epochs": tr["epochs"], "seconds": tr["seconds"], "device": tr["device"],
                                "batch": tr["batch"], "lr": tr["lr"], "optimizer": tr["optimizer"],
                                "schedule": tr["schedule"], "augmentation": tr["augmentation"],
                                "torch_version": tr["torch_version"],
                                "top1_torch_at_training": train_record.get("top1_torch")}
            card["command"]["train"] = train_record["command"]
        write_csv(os.path.join(tmp, "reference-logits.csv"), ref)
        out = os.path.join(args.out_root, name)
        if os.path.exists(out):
            shutil.rmtree(out)
        os.makedirs(args.out_root, exist_ok=True)
        shutil.move(tmp, out)
        card["files"] = {}
        with open(os.path.join(out, "card.json"), "w") as f:
            json.dump(card, f, indent=2)
        card["files"] = file_sizes(out)
        with open(os.path.join(out, "card.json"), "w") as f:
            json.dump(card, f, indent=2)
        os.chmod(out, 0o755)
        print("[%s] wrote %s: %s" % (name, out, card["files"]), flush=True)
        print("[%s] ops: %s" % (name, json.dumps(ops)), flush=True)
    if failures:
        print("WARNING: %d flavour(s) failed the ORT check (see ort_check in card.json)" % failures, flush=True)
        sys.exit(3)


if __name__ == "__main__":
    main()

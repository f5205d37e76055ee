#!/usr/bin/env python3
"""ONNX fixtures built from the upstream SViT code on SpikingJelly's own neurons.

Nothing upstream is copied: the script imports the model files from checkouts you give it
(ZK-Zhou/spikformer, BICLab/Spike-Driven-Transformer, zhouchenlin2096/QKFormer,
BICLab/Spike-Driven-Transformer-V2) and SpikingJelly from a checkout (--sj, any version: 0.0.0.0.12's
`clock_driven`, or 0.0.0.0.14 / HEAD's `activation_based`, which the upstream code predates: then
`spikingjelly.clock_driven.neuron.MultiStep*Node` is mapped onto `activation_based.neuron.*Node(step_mode='m')`).
timm, einops and torchinfo get tiny stand-ins when they are not installed (the models need only
`to_2tuple`, `trunc_normal_`, `DropPath`, `register_model`, `_cfg`).

  /usr/bin/python3 tools/upstream_fixtures.py --sj /path/spikingjelly-0.0.0.0.12 --sj-label 012 \\
      --spikformer /path/spikformer --sdt /path/Spike-Driven-Transformer --qkformer /path/QKFormer \\
      --sdtv2 /path/Spike-Driven-Transformer-V2 --exporter torchscript --out models/tests/upstream

Small configs: 32x32x3 input, dim 64, depth 1-2, T = 4, 10 classes; Fashion-MNIST padded to 32x32 and
repeated on 3 channels (what a CIFAR-format copy of it holds). Weights: --ckpt-dir with `<arch>[-<neuron>].pt`
state dicts (from --train), else random with BatchNorm statistics calibrated so every LIF fires.
Each model folder gets model.onnx (+ .data for dynamo), card.json, input.csv (images 0..N-1 as NCHW floats,
one row each, no header) and reference-logits.csv (PyTorch fp32 CPU logits of those images).
"""
import argparse
import importlib.util
import json
import math
import os
import shutil
import sys
import tempfile
import time
import types
from collections import Counter
from functools import partial

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fmnist  # noqa: E402

ARCHS = ("spikformer", "sdt", "qkformer", "sdtv2")


# ------------------------------------------------------------------------------------------------
# stand-ins for what the upstream files import but never need here
# ------------------------------------------------------------------------------------------------
def _module(name, **attrs):
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    sys.modules[name] = m
    return m


def install_standins():
    try:
        import timm  # noqa: F401
    except ImportError:
        def to_2tuple(x):
            return tuple(x) if isinstance(x, (tuple, list)) else (x, x)

        class DropPath(nn.Module):  # eval mode only: identity
            def __init__(self, p=0.0):
                super().__init__()

            def forward(self, x):
                return x

        def register_model(fn):
            return fn

        def _cfg(url="", **kw):
            return dict(url=url, **kw)

        layers = dict(to_2tuple=to_2tuple, trunc_normal_=nn.init.trunc_normal_, DropPath=DropPath)
        _module("timm")
        _module("timm.models", create_model=None, **layers)
        _module("timm.models.layers", **layers)
        _module("timm.models.registry", register_model=register_model)
        _module("timm.models.vision_transformer", _cfg=_cfg)
        _module("timm.data", IMAGENET_DEFAULT_MEAN=(0.485, 0.456, 0.406), IMAGENET_DEFAULT_STD=(0.229, 0.224, 0.225))
    for name in ("einops", "torchinfo"):
        try:
            __import__(name)
        except ImportError:
            _module(name)
            if name == "einops":
                _module("einops.layers")
                _module("einops.layers.torch", Rearrange=None)


# ------------------------------------------------------------------------------------------------
# SpikingJelly: import from the checkout, map the upstream neuron names onto it, pick the neuron form
# ------------------------------------------------------------------------------------------------
class SJ:
    def __init__(self, path, neuron):
        sys.path.insert(0, os.path.abspath(path))
        import spikingjelly
        self.root = spikingjelly
        self.neuron_form = neuron  # lif | plif | soft
        try:
            from spikingjelly.clock_driven import neuron as cn, functional
            self.legacy = True
            self.functional = functional
            self.lif_cls, self.plif_cls = cn.MultiStepLIFNode, cn.MultiStepParametricLIFNode
            self.neuron_module = cn
        except ImportError:
            from spikingjelly.activation_based import neuron as an, functional, layer
            self.legacy = False
            self.functional = functional
            self.lif_cls, self.plif_cls = an.LIFNode, an.ParametricLIFNode
            cd = _module("spikingjelly.clock_driven", functional=functional, layer=layer)
            self.neuron_module = _module("spikingjelly.clock_driven.neuron")
            cd.neuron = self.neuron_module
            sys.modules["spikingjelly.clock_driven.functional"] = functional
            sys.modules["spikingjelly.clock_driven.layer"] = layer
        self.version = getattr(spikingjelly, "__version__", None)
        self.lif_modules = []
        sjself = self

        def make_lif(tau=2.0, decay_input=True, v_threshold=1.0, v_reset=0.0, detach_reset=False, backend="torch", **_):
            kw = dict(decay_input=decay_input, v_threshold=v_threshold, detach_reset=detach_reset)
            kw["v_reset"] = None if sjself.neuron_form == "soft" else v_reset
            if sjself.neuron_form == "plif":
                m = sjself.plif_cls(init_tau=tau, **kw, **sjself._mode())
            else:
                m = sjself.lif_cls(tau=tau, **kw, **sjself._mode())
            sjself.lif_modules.append(m)
            return m

        def make_plif(init_tau=2.0, decay_input=True, v_threshold=1.0, v_reset=0.0, detach_reset=False, backend="torch", **_):
            kw = dict(decay_input=decay_input, v_threshold=v_threshold, detach_reset=detach_reset)
            kw["v_reset"] = None if sjself.neuron_form == "soft" else v_reset
            m = sjself.plif_cls(init_tau=init_tau, **kw, **sjself._mode())
            sjself.lif_modules.append(m)
            return m

        self.neuron_module.MultiStepLIFNode = make_lif
        self.neuron_module.MultiStepParametricLIFNode = make_plif

    def _mode(self):
        return dict(backend="torch") if self.legacy else dict(step_mode="m", backend="torch")

    def reset(self, model):
        self.functional.reset_net(model)


# ------------------------------------------------------------------------------------------------
# the four architectures, small configs, from the upstream files
# ------------------------------------------------------------------------------------------------
def _load(path, name, extra_path=None):
    if extra_path:
        sys.path.insert(0, extra_path)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # timm's register_model looks the module up
    spec.loader.exec_module(mod)
    return mod


def build(arch, repo, dim, depth, heads, T, classes=10):
    norm = partial(nn.LayerNorm, eps=1e-6)
    if arch == "spikformer":
        m = _load(os.path.join(repo, "cifar10", "model.py"), "up_spikformer")
        model = m.Spikformer(img_size_h=32, img_size_w=32, patch_size=4, in_channels=3, num_classes=classes,
                             embed_dims=dim, num_heads=heads, mlp_ratios=4, norm_layer=norm, depths=depth,
                             sr_ratios=1, T=T)
    elif arch == "sdt":
        m = _load(os.path.join(repo, "model", "spikeformer.py"), "up_sdt", extra_path=repo)
        model = m.SpikeDrivenTransformer(img_size_h=32, img_size_w=32, patch_size=4, in_channels=3,
                                         num_classes=classes, embed_dims=dim, num_heads=heads, mlp_ratios=4,
                                         norm_layer=norm, depths=depth, sr_ratios=1, T=T, pooling_stat="0011",
                                         attn_mode="direct_xor", spike_mode="lif")
    elif arch == "qkformer":
        m = _load(os.path.join(repo, "cifar10", "model.py"), "up_qkformer")
        model = m.spiking_transformer(img_size_h=32, img_size_w=32, patch_size=4, in_channels=3,
                                      num_classes=classes, embed_dims=dim, mlp_ratios=4, norm_layer=norm,
                                      depths=max(depth, 3), sr_ratios=1, T=T)
    elif arch == "sdtv2":
        m = _load(os.path.join(repo, "classification", "models.py"), "up_sdtv2")
        model = m.Spiking_vit_MetaFormer(img_size_h=32, img_size_w=32, patch_size=16,
                                         embed_dim=[dim // 4, dim // 2, dim, dim], num_heads=heads, mlp_ratios=4,
                                         in_channels=3, num_classes=classes, norm_layer=norm, depths=8, sr_ratios=1)
        model.block3 = model.block3[:1]  # the upstream class fixes 6 + 2 blocks; keep one of each
        model.block4 = model.block4[:1]
        model.T = T  # the class sets T = 1 and expects the caller to change it
    else:
        raise SystemExit("unknown arch " + arch)
    return model


def logits_only(model):
    """SDT V1 returns (logits, hook): export the logits only. The model's class is swapped for a subclass whose
    forward keeps the first output: no parent module (node names keep the upstream module paths, /patch_embed/...,
    not /inner/...) and no closure over the instance (dynamo cannot lift SpikingJelly 0.14's state through one)."""
    base = type(model)
    probe = base.forward

    def forward(self, x):
        y = probe(self, x)
        return y[0] if isinstance(y, tuple) else y

    model.__class__ = type(base.__name__, (base,), {"forward": forward})
    return model


# ------------------------------------------------------------------------------------------------
# data: Fashion-MNIST padded to 32x32, grey repeated on 3 channels (a CIFAR-format copy holds exactly this)
# ------------------------------------------------------------------------------------------------
def fmnist_rgb32(images):
    """(N, 1, 28, 28) floats in [0, 1] -> (N, 3, 32, 32): zero padding, grey repeated."""
    x = torch.nn.functional.pad(torch.from_numpy(images), (2, 2, 2, 2))
    return x.repeat(1, 3, 1, 1).contiguous()


def load_split(root, split):
    imgs, labels, _ = fmnist.load(split, root)
    return fmnist_rgb32(imgs), torch.from_numpy(labels)


# ------------------------------------------------------------------------------------------------
# random weights that fire
# ------------------------------------------------------------------------------------------------
def calibrate_bn(model, sj, x, seed):
    g = torch.Generator().manual_seed(seed)
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None
        for bn in bns:
            model.eval()
            bn.train()
            sj.reset(model)
            model(x)
            bn.eval()
            n = bn.num_features
            bn.weight.copy_(torch.empty(n).uniform_(0.6, 1.6, generator=g))
            bn.bias.copy_(torch.empty(n).uniform_(0.1, 0.7, generator=g))
            bn.momentum = 0.1
    model.eval()


def firing(model, sj, x):
    rates = []
    hooks = [m.register_forward_hook(lambda mod, i, o: rates.append(float(o.float().mean()))) for m in sj.lif_modules]
    with torch.no_grad():
        sj.reset(model)
        model(x)
    for h in hooks:
        h.remove()
    return rates


# ------------------------------------------------------------------------------------------------
# export
# ------------------------------------------------------------------------------------------------
def has_dynamo():
    import inspect
    try:
        return "dynamo" in inspect.signature(torch.onnx.export).parameters
    except (TypeError, ValueError):
        return False


def export(model, example, path, exporter, batch_one):
    kw = dict(input_names=["input"], output_names=["logits"])
    if exporter == "torchscript":
        kw.update(opset_version=17, do_constant_folding=True)
        if not batch_one:
            kw["dynamic_axes"] = {"input": {0: "batch"}, "logits": {0: "batch"}}
        if has_dynamo():
            kw["dynamo"] = False
        torch.onnx.export(model, (example,), path, **kw)
        return "batch" if not batch_one else 1
    kw.update(dynamo=True, opset_version=18)
    prog = None
    if not batch_one:
        try:
            prog = torch.onnx.export(model, (example,), dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=4096)},), **kw)
        except Exception as e:  # noqa: BLE001 - some upstream code pins the batch (e.g. a loop over T*B)
            print("  dynamic batch failed (%s: %s); batch 1" % (type(e).__name__, str(e).splitlines()[0][:160]))
    used = "batch"
    if prog is None:
        prog = torch.onnx.export(model, (example[:1],), **kw)
        used = 1
    prog.save(path, external_data=True)
    return used


def ort_check(folder, x, ref):
    try:
        import onnxruntime as ort
    except ImportError:
        return {"skipped": True}
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    s = ort.InferenceSession(os.path.join(folder, "model.onnx"), so, providers=["CPUExecutionProvider"])
    shape = s.get_inputs()[0].shape
    if isinstance(shape[0], int) and shape[0] == 1:
        out = np.concatenate([s.run(None, {"input": x[i:i + 1]})[0] for i in range(len(x))])
    else:
        out = s.run(None, {"input": x})[0]
    d = np.abs(out - ref)
    return {"skipped": False, "max_abs_diff": float(d.max()), "argmax_agree": int((out.argmax(1) == ref.argmax(1)).sum()),
            "images": int(len(x)), "images_over_1e-4": int((d.max(1) > 1e-4).sum())}


def train(model, sj, args, tag):
    """Brief training on the GPU (surrogate gradients of SpikingJelly's own neurons): AdamW, cosine, flips/shifts."""
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    x_all, y_all = load_split(args.data, "train")
    x_all, y_all = x_all.to(dev), y_all.to(dev)
    model.to(dev).train()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    t0, step, total = time.time(), 0, None
    losses = []
    while time.time() - t0 < args.train:
        perm = torch.randperm(len(x_all), device=dev)
        for i in range(0, len(perm) - args.batch + 1, args.batch):
            idx = perm[i:i + args.batch]
            xb = x_all[idx]
            if torch.rand(1).item() < 0.5:
                xb = xb.flip(3)
            for g in opt.param_groups:  # cosine over the time budget
                g["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, (time.time() - t0) / args.train)))
            sj.reset(model)
            y = model(xb)
            y = y[0] if isinstance(y, tuple) else y
            loss = nn.functional.cross_entropy(y, y_all[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss))
            step += 1
            if time.time() - t0 >= args.train:
                break
    model.eval()
    x_test, y_test = load_split(args.data, "t10k")
    right = 0
    with torch.no_grad():
        for i in range(0, len(x_test), 500):
            sj.reset(model)
            y = model(x_test[i:i + 500].to(dev))
            y = y[0] if isinstance(y, tuple) else y
            right += int((y.argmax(1).cpu() == y_test[i:i + 500]).sum())
    model.cpu()
    os.makedirs(args.ckpt_dir, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(args.ckpt_dir, tag + ".pt"))
    record = {"steps": step, "seconds": round(time.time() - t0, 1), "loss": float(np.mean(losses[-50:])),
              "top1_torch": right / len(x_test), "device": str(dev), "torch": torch.__version__, "command": " ".join(sys.argv)}
    with open(os.path.join(args.ckpt_dir, tag + ".json"), "w") as f:
        json.dump(record, f, indent=1)
    print("%s: trained %d steps in %.0f s, loss %.3f, test top-1 %.4f" % (tag, step, record["seconds"], record["loss"], record["top1_torch"]))


def forward_each(net, sj, x, one_by_one):
    """PyTorch logits; one image at a time for exports valid at batch 1 only (the reference must be what they compute)."""
    with torch.no_grad():
        parts = [x[i:i + 1] for i in range(len(x))] if one_by_one else [x]
        out = []
        for p in parts:
            sj.reset(net)
            out.append(net(p).numpy())
        return np.concatenate(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sj", required=True, help="SpikingJelly checkout (the folder holding spikingjelly/)")
    ap.add_argument("--sj-label", required=True, help="short version label for names: 012, 014, head")
    for a in ARCHS:
        ap.add_argument("--" + a, help="checkout of the upstream %s repository" % a)
    ap.add_argument("--archs", default=",".join(ARCHS))
    ap.add_argument("--neuron", default="lif", choices=["lif", "plif", "soft"])
    ap.add_argument("--exporter", default="both", choices=["torchscript", "dynamo", "both"])
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--depth", type=int, default=1)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--time-steps", type=int, default=4)
    ap.add_argument("--data", default=os.path.join(HERE, "..", "models", "datasets", "fashion-mnist"))
    ap.add_argument("--ckpt-dir", help="state dicts <arch>[-<neuron>].pt (from --train); random weights without")
    ap.add_argument("--train", type=float, default=0, help="train for this many seconds into --ckpt-dir, then stop")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--images", type=int, default=8, help="images in input.csv / reference-logits.csv")
    ap.add_argument("--eval-images", type=int, default=0, help="PyTorch top-1 on this many test images (0: skip)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", required=True)
    ap.add_argument("--suffix", default="", help="appended to each model name, e.g. -t211")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", min(16, os.cpu_count() or 1))))
    install_standins()
    sj = SJ(args.sj, args.neuron)
    x_test, y_test = load_split(args.data, "t10k")
    exporters = ["torchscript", "dynamo"] if args.exporter == "both" else [args.exporter]
    if "dynamo" in exporters and not has_dynamo():
        print("torch %s has no dynamo exporter: skipped" % torch.__version__)
        exporters.remove("dynamo")
    failures = 0
    for arch in args.archs.split(","):
        repo = getattr(args, arch)
        if not repo:
            continue
        sj.lif_modules.clear()
        torch.manual_seed(args.seed)
        model = build(arch, repo, args.dim, args.depth, args.heads, args.time_steps)
        sj.lif_modules[:] = [m for m in model.modules() if isinstance(m, (sj.lif_cls, sj.plif_cls))]
        lif_count = len(sj.lif_modules)
        tag = arch if args.neuron == "lif" else "%s-%s" % (arch, args.neuron)
        ckpt_tag = tag if args.neuron == "plif" else arch
        ckpt = os.path.join(args.ckpt_dir, ckpt_tag + ".pt") if args.ckpt_dir else None
        if args.train:
            train(model, sj, args, tag)
            continue
        trained = bool(ckpt and os.path.exists(ckpt))
        if trained:
            # The neurons hold no parameters but PLIF's w: a LIF checkpoint serves the soft-reset form too.
            model.load_state_dict(torch.load(ckpt, map_location="cpu"), strict=args.neuron == "plif")
            model.eval()
        else:
            calibrate_bn(model, sj, x_test[:64], args.seed)
        net = logits_only(model).eval()
        x = x_test[:args.images]
        ref_batched = forward_each(net, sj, x, False)
        rates = firing(model, sj, x[:4])
        top1 = None
        if trained and os.path.exists(ckpt[:-3] + ".json"):
            with open(ckpt[:-3] + ".json") as f:
                training = json.load(f)
            top1 = training["top1_torch"]
        if args.eval_images:
            with torch.no_grad():
                right = 0
                for i in range(0, args.eval_images, 100):
                    sj.reset(model)
                    right += int((net(x_test[i:i + 100]).argmax(1) == y_test[i:i + 100]).sum())
            top1 = right / args.eval_images
        for exporter in exporters:
            name = "%s-sj%s-%s%s" % (tag, args.sj_label, "ts" if exporter == "torchscript" else "dynamo", args.suffix)
            folder = os.path.join(args.out, name)
            tmp = tempfile.mkdtemp()
            t0 = time.time()
            # QKFormer's stage-3 LIF runs over T*B and SDT V2's BNAndPadLayer writes its pads with shapes fixed at
            # trace time (upstream code): their exports are valid at batch 1 only. Others fall back to batch 1
            # when ONNX Runtime cannot run the dynamic-batch export at another batch.
            batch_one = arch in ("qkformer", "sdtv2")
            check = None
            for attempt in (0, 1):
                try:
                    with torch.no_grad():
                        sj.reset(model)
                        used = export(net, x[:2] if not batch_one else x[:1], os.path.join(tmp, "model.onnx"), exporter, batch_one)
                except Exception as e:  # noqa: BLE001
                    print("%s: export failed: %s: %s" % (name, type(e).__name__, str(e).splitlines()[0][:300]))
                    print("  " + " | ".join(l.strip() for l in str(e).splitlines() if l.strip())[-1500:])
                    break
                ref = ref_batched if used != 1 else forward_each(net, sj, x, True)
                try:
                    check = ort_check(tmp, x.numpy(), ref)
                    break
                except Exception as e:  # noqa: BLE001
                    print("%s: ONNX Runtime failed at batch %d (%s); exporting at batch 1" % (name, len(x), str(e).splitlines()[0][:200]))
                    if batch_one:
                        break
                    batch_one = True
            if check is None:
                failures += 1
                shutil.rmtree(tmp, ignore_errors=True)
                continue
            import onnx
            proto = onnx.load(os.path.join(tmp, "model.onnx"), load_external_data=False)
            ops = Counter(n.op_type for n in proto.graph.node)
            shutil.rmtree(folder, ignore_errors=True)
            shutil.move(tmp, folder)
            np.savetxt(os.path.join(folder, "input.csv"), x.reshape(len(x), -1).numpy(), delimiter=",", fmt="%.9g")
            np.savetxt(os.path.join(folder, "reference-logits.csv"), ref, delimiter=",", fmt="%.9g")
            card = {
                "name": name, "architecture": arch, "source": "upstream code (%s)" % arch,
                "spikingjelly": {"label": args.sj_label, "version": sj.version,
                                 "api": "clock_driven.MultiStep*Node" if sj.legacy else "activation_based.*Node(step_mode='m')"},
                "neuron": args.neuron, "lif_modules": lif_count, "firing_rates": [round(r, 4) for r in rates],
                "dims": {"dim": args.dim, "depth": args.depth, "heads": args.heads}, "time_steps": args.time_steps,
                "dataset": None, "input": {"name": "input", "shape": [used, 3, 32, 32], "scaling": "pixel/255"},
                "data": "Fashion-MNIST padded 2 px to 32x32, grey repeated on 3 channels (what a CIFAR-10-format copy of it holds)",
                "batch_one_only": used == 1, "weights": "trained" if trained else "random (BatchNorm calibrated)",
                "top1_torch": top1, "exporter": exporter, "torch": torch.__version__, "opset": proto.opset_import[0].version,
                "ops": dict(sorted(ops.items())), "ort_check": check, "export_seconds": round(time.time() - t0, 1),
                "command": " ".join(sys.argv),
            }
            card["lif_called"] = len(rates)
            with open(os.path.join(folder, "card.json"), "w") as f:
                json.dump(card, f, indent=1)
            print("%s: %d nodes, LIF modules %d, firing %s, ort %s" % (
                name, len(proto.graph.node), lif_count, ",".join("%.2f" % r for r in rates[:6]), check))
    return 3 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

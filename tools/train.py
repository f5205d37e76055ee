#!/usr/bin/env python3
"""Train a Spikformer / Spike-driven Transformer on Fashion-MNIST (IDX gzip files).

Whole data set lives on the device; augmentation (random horizontal flip, +-2 px random shift) is done
on the device per batch. AdamW + warm-up + cosine schedule (per step). A wall-clock budget shortens the
run: after the first epoch the number of epochs is cut to what fits and the cosine schedule is
re-targeted so it still ends at zero learning rate.

Writes OUT.pt (state_dict) and OUT.json (config, training record, float top-1 on the full test set).
"""
import argparse
import json
import math
import os
import shlex
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist  # noqa: E402
import svit  # noqa: E402


def augment(x, max_shift=2):
    """x (B,1,H,W) on device: random hflip + random shift in [-max_shift, max_shift] with zero fill."""
    B, C, H, W = x.shape
    dev = x.device
    flip = torch.rand(B, device=dev) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    if max_shift > 0:
        p = max_shift
        xp = F.pad(x, (p, p, p, p))
        dy = torch.randint(0, 2 * p + 1, (B,), device=dev)
        dx = torch.randint(0, 2 * p + 1, (B,), device=dev)
        rows = (torch.arange(H, device=dev)[None, :] + dy[:, None])  # (B,H)
        cols = (torch.arange(W, device=dev)[None, :] + dx[:, None])  # (B,W)
        bi = torch.arange(B, device=dev)[:, None, None]
        out = []
        for c in range(C):
            out.append(xp[bi, c, rows[:, :, None], cols[:, None, :]])
        x = torch.stack(out, 1)
    return x


@torch.no_grad()
def evaluate(model, x, y, batch=500):
    model.eval()
    correct = 0
    for i in range(0, x.shape[0], batch):
        logits = model(x[i:i + batch])
        correct += int((logits.argmax(1) == y[i:i + batch]).sum())
    return correct / x.shape[0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", choices=["spikformer", "sdt"], default="spikformer")
    ap.add_argument("--dim", type=int, default=192)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--time-steps", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--warmup-epochs", type=float, default=1.0)
    ap.add_argument("--time-budget", type=float, default=0, help="seconds of training wall time (0 = no cap)")
    ap.add_argument("--data", default=fmnist.SYSTEM_DIR, help="folder with train-*-ubyte.gz (and t10k-*)")
    ap.add_argument("--test-data", default=None, help="folder with t10k-*-ubyte[.gz] (default: --data, then models/datasets/fashion-mnist)")
    ap.add_argument("--train-limit", type=int, default=0, help="use only the first N training images (smoke tests)")
    ap.add_argument("--test-limit", type=int, default=0, help="evaluate only the first N test images (smoke tests)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="checkpoint path prefix: writes OUT.pt and OUT.json")
    args = ap.parse_args(argv)

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    dev = torch.device(args.device)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True

    xtr, ytr, train_dir = fmnist.load("train", args.data)
    xte, yte, test_dir = fmnist.load("t10k", args.test_data or args.data)
    if args.train_limit:
        xtr, ytr = xtr[:args.train_limit], ytr[:args.train_limit]
    if args.test_limit:
        xte, yte = xte[:args.test_limit], yte[:args.test_limit]
    xtr, ytr = torch.from_numpy(xtr).to(dev), torch.from_numpy(ytr).to(dev)
    xte, yte = torch.from_numpy(xte).to(dev), torch.from_numpy(yte).to(dev)
    print("train %s from %s, test %s from %s, device %s" % (tuple(xtr.shape), train_dir, tuple(xte.shape), test_dir, dev),
          flush=True)

    cfg = svit.make_config(args.arch, dim=args.dim, depth=args.depth, heads=args.heads, time_steps=args.time_steps,
                           image_size=28, in_channels=1, num_classes=10)
    model = svit.build_model(cfg).to(dev)
    nparams = svit.count_params(model)
    print("%s dim %d depth %d heads %d T %d: %d params" % (cfg["arch"], args.dim, args.depth, args.heads,
                                                         args.time_steps, nparams), flush=True)

    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)

    N = xtr.shape[0]
    steps_per_epoch = max(1, N // args.batch)
    epochs = args.epochs
    warmup = int(args.warmup_epochs * steps_per_epoch)

    def lr_at(step, total):
        if step < warmup:
            return args.lr * (step + 1) / warmup
        t = (step - warmup) / max(1, total - warmup)
        return args.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))

    step = 0
    t_start = time.time()
    history = []
    for ep in range(10 ** 6):
        if ep >= epochs:
            break
        model.train()
        t0 = time.time()
        perm = torch.randperm(N, device=dev)
        tot_loss, tot_correct, seen = 0.0, 0, 0
        for i in range(steps_per_epoch):
            idx = perm[i * args.batch:(i + 1) * args.batch]
            xb, yb = augment(xtr[idx]), ytr[idx]
            for g in opt.param_groups:
                g["lr"] = lr_at(step, epochs * steps_per_epoch)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            tot_loss = tot_loss + loss.detach() * yb.shape[0]       # stays on device: no sync per step
            tot_correct = tot_correct + (logits.detach().argmax(1) == yb).sum()
            seen += yb.shape[0]
        if dev.type == "cuda":
            torch.cuda.synchronize()
        ep_time = time.time() - t0
        elapsed = time.time() - t_start
        rec = {"epoch": ep + 1, "loss": float(tot_loss) / max(1, seen), "train_acc": int(tot_correct) / max(1, seen),
               "seconds": round(ep_time, 2), "elapsed": round(elapsed, 2), "lr": opt.param_groups[0]["lr"]}
        history.append(rec)
        print("epoch %2d/%d  loss %.4f  train-acc %.4f  %.1fs  (elapsed %.1fs)" % (
            ep + 1, epochs, rec["loss"], rec["train_acc"], ep_time, elapsed), flush=True)
        if ep == 0 and args.time_budget > 0:
            fit = int(args.time_budget // max(ep_time, 1e-3))
            if fit < epochs:
                epochs = max(1, fit)
                print("time budget %.0fs: cutting to %d epochs (cosine re-targeted)" % (args.time_budget, epochs),
                      flush=True)
        elif args.time_budget > 0 and elapsed + ep_time > args.time_budget * 1.1 and ep + 1 < epochs:
            print("time budget reached after %d epochs" % (ep + 1), flush=True)
            epochs = ep + 1
            break
    train_seconds = time.time() - t_start

    # final float evaluation: eval mode, fp32, TF32 off
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    top1 = evaluate(model, xte, yte)
    print("final: %d epochs, %.1fs, float top-1 on %d test images: %.4f" % (len(history), train_seconds,
                                                                          xte.shape[0], top1), flush=True)

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, args.out + ".pt")
    dev_name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    record = {"config": cfg, "params": nparams, "top1_torch": top1, "test_images": int(xte.shape[0]),
              "training": {"epochs": len(history), "epochs_requested": args.epochs, "seconds": round(train_seconds, 1),
                           "device": dev_name, "batch": args.batch, "lr": args.lr,
                           "weight_decay": args.weight_decay, "optimizer": "AdamW", "schedule": "warmup+cosine",
                           "augmentation": "hflip, +-2px shift", "train_images": int(N), "seed": args.seed,
                           "torch_version": torch.__version__, "history": history},
              "command": "python3 tools/train.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))}
    with open(args.out + ".json", "w") as f:
        json.dump(record, f, indent=2)
    print("wrote %s.pt and %s.json" % (args.out, args.out), flush=True)


if __name__ == "__main__":
    main()

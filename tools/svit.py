"""Spiking vision transformers (Spikformer, Spike-driven Transformer V1) in plain PyTorch.

Our own code for AQ4SViT.Onnx reference models. No SpikingJelly: the LIF neuron below computes
exactly what SpikingJelly's multi-step LIF node (torch backend, detach_reset=True) computes, with the
time loop unrolled in Python so that ONNX exporters see plain element-wise ops per time step.

Works on torch 1.13 (CPU, TorchScript ONNX export) and torch 2.x (CUDA training, dynamo export).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


# --------------------------------------------------------------------------------------------
# LIF neuron
# --------------------------------------------------------------------------------------------
class SigmoidSurrogateSpike(torch.autograd.Function):
    """Heaviside forward, sigmoid-derivative backward (SpikingJelly's default surrogate, alpha=4).
    Used only in training mode; eval mode uses plain ops so exporters see no custom Function."""

    @staticmethod
    def forward(ctx, x, alpha):
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        sg = torch.sigmoid(ctx.alpha * x)
        return grad_out * (1.0 - sg) * sg * ctx.alpha, None


class LIF(nn.Module):
    """Multi-step LIF. Input (T, ...), output spikes (T, ...).

    charge (decay_input):      v = v + (x - (v - v_reset)) / tau     (v_reset 0 / soft: v = v + (x - v) / tau)
    charge (no decay_input):   v = v - (v - v_reset) / tau + x       (v_reset 0 / soft: v = v - v / tau + x)
    fire:                      s = (v - v_threshold >= 0)
    reset (hard):              v = (1 - s) * v + s * v_reset
    reset (soft, v_reset None) v = v - s * v_threshold
    initial v = v_reset (0 for soft reset); reset uses s.detach() (detach_reset=True).
    """

    def __init__(self, tau=2.0, v_threshold=1.0, v_reset=0.0, decay_input=True, surrogate_alpha=4.0):
        super().__init__()
        self.tau = float(tau)
        self.v_threshold = float(v_threshold)
        self.v_reset = None if v_reset is None else float(v_reset)
        self.decay_input = bool(decay_input)
        self.surrogate_alpha = float(surrogate_alpha)
        self.record = None  # optional list; when set, spikes are appended (firing-rate checks)

    def extra_repr(self):
        return "tau={}, v_threshold={}, v_reset={}, decay_input={}".format(
            self.tau, self.v_threshold, self.v_reset, self.decay_input)

    def params_dict(self):
        return {"tau": self.tau, "v_threshold": self.v_threshold, "v_reset": self.v_reset,
                "reset": "soft" if self.v_reset is None else "hard", "decay_input": self.decay_input}

    def charge(self, v, x):
        vr = self.v_reset
        if self.decay_input:
            if vr is None or vr == 0.0:
                return v + (x - v) / self.tau
            return v + (x - (v - vr)) / self.tau
        if vr is None or vr == 0.0:
            return v - v / self.tau + x
        return v - (v - vr) / self.tau + x

    def fire(self, v):
        if self.training:
            return SigmoidSurrogateSpike.apply(v - self.v_threshold, self.surrogate_alpha)
        return (v - self.v_threshold >= 0).to(v.dtype)

    def reset(self, v, s):
        sd = s.detach()
        if self.v_reset is None:
            return v - sd * self.v_threshold
        return (1.0 - sd) * v + sd * self.v_reset

    def forward(self, x):
        T = x.shape[0]
        v = torch.full_like(x[0], 0.0 if self.v_reset is None else self.v_reset)
        out = []
        for t in range(T):
            v = self.charge(v, x[t])
            s = self.fire(v)
            v = self.reset(v, s)
            out.append(s)
        y = torch.stack(out)
        if self.record is not None:
            self.record.append(y.detach())
        return y


class BrokenLIF(LIF):
    """Deliberately NOT a LIF (for negative recognition tests): strict '>' fire and a reset that
    halves the membrane (v = v - s * v * 0.5). Still a valid, exportable graph."""

    def fire(self, v):
        if self.training:
            return SigmoidSurrogateSpike.apply(v - self.v_threshold, self.surrogate_alpha)
        return (v - self.v_threshold > 0).to(v.dtype)

    def reset(self, v, s):
        return v - s.detach() * v * 0.5


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def conv_bn(cin, cout, k=3):
    return nn.Sequential(nn.Conv2d(cin, cout, k, 1, k // 2, bias=False), nn.BatchNorm2d(cout))


def seq_apply(mod, x):
    """Apply a per-frame module to (T, B, ...) by flattening T and B."""
    T, B = x.shape[0], x.shape[1]
    y = mod(x.flatten(0, 1))
    return y.reshape((T, B) + tuple(y.shape[1:]))


def default_lif_kwargs(cfg):
    return dict(tau=cfg.get("tau", 2.0), v_threshold=cfg.get("v_threshold", 1.0),
                v_reset=cfg.get("v_reset", 0.0), decay_input=cfg.get("decay_input", True))


# --------------------------------------------------------------------------------------------
# Spikformer (Zhou et al., ICLR 2023)
# --------------------------------------------------------------------------------------------
class SpikformerSPS(nn.Module):
    def __init__(self, in_ch, D, pools, lk):
        super().__init__()
        chans = [in_ch, D // 8, D // 4, D // 2, D]
        self.convs = nn.ModuleList([conv_bn(chans[i], chans[i + 1]) for i in range(4)])
        self.lifs = nn.ModuleList([LIF(**lk) for _ in range(4)])
        # maxpool after the last `pools` stages (2 for 28x28 -> 7x7, 4 for 224x224 -> 14x14)
        self.pool_after = [i >= 4 - pools for i in range(4)]
        self.rpe = conv_bn(D, D)
        self.rpe_lif = LIF(**lk)

    def forward(self, x):  # (T,B,C,H,W)
        for conv, lif, pool in zip(self.convs, self.lifs, self.pool_after):
            x = lif(seq_apply(conv, x))
            if pool:
                x = seq_apply(lambda z: F.max_pool2d(z, 3, 2, 1), x)
        x_feat = x
        x = self.rpe_lif(seq_apply(self.rpe, x))
        x = x + x_feat
        return x.flatten(3).transpose(-1, -2)  # (T,B,N,D)


class LinearBNLIF(nn.Module):
    """Linear over tokens + BatchNorm1d over channels + LIF. Input (T,B,N,Cin)."""

    def __init__(self, cin, cout, lk):
        super().__init__()
        self.linear = nn.Linear(cin, cout)
        self.bn = nn.BatchNorm1d(cout)
        self.lif = LIF(**lk)

    def forward(self, x):
        T, B, N = x.shape[0], x.shape[1], x.shape[2]
        y = self.linear(x.flatten(0, 1))                       # (TB,N,C)
        y = self.bn(y.transpose(-1, -2)).transpose(-1, -2)     # BN over channels
        return self.lif(y.reshape(T, B, N, y.shape[-1]))


class SSA(nn.Module):
    def __init__(self, D, heads, lk, attn_thr=0.5, scale=0.125):
        super().__init__()
        self.heads = heads
        self.scale = scale
        self.q = LinearBNLIF(D, D, lk)
        self.k = LinearBNLIF(D, D, lk)
        self.v = LinearBNLIF(D, D, lk)
        alk = dict(lk)
        alk["v_threshold"] = attn_thr
        self.attn_lif = LIF(**alk)
        self.proj = LinearBNLIF(D, D, lk)

    def forward(self, x):  # (T,B,N,D)
        T, B, N, D = x.shape
        h = self.heads

        def split(z):
            return z.reshape(T, B, N, h, D // h).permute(0, 1, 3, 2, 4)  # (T,B,h,N,d)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        attn = (q @ k.transpose(-2, -1)) * self.scale
        y = attn @ v                                               # (T,B,h,N,d)
        y = y.transpose(2, 3).reshape(T, B, N, D)
        y = self.attn_lif(y)
        return self.proj(y)


class SpikformerMLP(nn.Module):
    def __init__(self, D, ratio, lk):
        super().__init__()
        self.fc1 = LinearBNLIF(D, D * ratio, lk)
        self.fc2 = LinearBNLIF(D * ratio, D, lk)

    def forward(self, x):
        return self.fc2(self.fc1(x))


class SpikformerBlock(nn.Module):
    def __init__(self, D, heads, ratio, lk, attn_thr):
        super().__init__()
        self.attn = SSA(D, heads, lk, attn_thr)
        self.mlp = SpikformerMLP(D, ratio, lk)

    def forward(self, x):
        x = x + self.attn(x)
        x = x + self.mlp(x)
        return x


class Spikformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = dict(cfg)
        D = cfg["dim"]
        lk = default_lif_kwargs(cfg)
        self.T = cfg["time_steps"]
        self.sps = SpikformerSPS(cfg["in_channels"], D, cfg["pools"], lk)
        self.blocks = nn.ModuleList([SpikformerBlock(D, cfg["heads"], cfg["mlp_ratio"], lk, cfg["attention_v_threshold"])
                                     for _ in range(cfg["depth"])])
        self.head = nn.Linear(D, cfg["num_classes"])

    def forward(self, x):  # (B,C,H,W)
        x = x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1)
        x = self.sps(x)
        for blk in self.blocks:
            x = blk(x)
        x = x.mean(2)              # (T,B,D) mean over tokens
        x = self.head(x)           # (T,B,classes)
        return x.mean(0)


# --------------------------------------------------------------------------------------------
# Spike-driven Transformer V1 (Yao et al., NeurIPS 2023), membrane shortcut
# --------------------------------------------------------------------------------------------
class SDTSPS(nn.Module):
    def __init__(self, in_ch, D, pools, lk):
        super().__init__()
        chans = [in_ch, D // 8, D // 4, D // 2, D]
        self.convs = nn.ModuleList([conv_bn(chans[i], chans[i + 1]) for i in range(4)])
        self.lifs = nn.ModuleList([LIF(**lk) for _ in range(3)])  # before convs 2..4
        self.pool_after = [i >= 4 - pools for i in range(4)]
        self.rpe_lif = LIF(**lk)
        self.rpe = conv_bn(D, D)

    def forward(self, x):  # (T,B,C,H,W)
        for i in range(4):
            if i > 0:
                x = self.lifs[i - 1](x)
            x = seq_apply(self.convs[i], x)
            if self.pool_after[i]:
                x = seq_apply(lambda z: F.max_pool2d(z, 3, 2, 1), x)
        x_feat = x
        x = seq_apply(self.rpe, self.rpe_lif(x))
        return x + x_feat  # (T,B,D,H,W), membrane-like floats


class ConvBNLIF(nn.Module):
    def __init__(self, cin, cout, lk):
        super().__init__()
        self.conv = conv_bn(cin, cout, 1)
        self.lif = LIF(**lk)

    def forward(self, x):
        return self.lif(seq_apply(self.conv, x))


class SDSA(nn.Module):
    def __init__(self, D, heads, lk, attn_thr=0.5):
        super().__init__()
        self.heads = heads  # q*kv is element-wise: head split does not change the result
        self.shortcut_lif = LIF(**lk)
        self.q = ConvBNLIF(D, D, lk)
        self.k = ConvBNLIF(D, D, lk)
        self.v = ConvBNLIF(D, D, lk)
        alk = dict(lk)
        alk["v_threshold"] = attn_thr
        self.kv_lif = LIF(**alk)
        self.proj = conv_bn(D, D, 1)

    def forward(self, x):  # (T,B,D,H,W)
        x = self.shortcut_lif(x)
        q, k, v = self.q(x), self.k(x), self.v(x)
        kv = (k * v).flatten(3).sum(-1, keepdim=True).unsqueeze(-1)  # (T,B,D,1,1) sum over tokens
        kv = self.kv_lif(kv)
        y = q * kv
        return seq_apply(self.proj, y)


class SDTMLP(nn.Module):
    def __init__(self, D, ratio, lk):
        super().__init__()
        self.lif1 = LIF(**lk)
        self.fc1 = conv_bn(D, D * ratio, 1)
        self.lif2 = LIF(**lk)
        self.fc2 = conv_bn(D * ratio, D, 1)

    def forward(self, x):
        x = seq_apply(self.fc1, self.lif1(x))
        return seq_apply(self.fc2, self.lif2(x))


class SDTBlock(nn.Module):
    def __init__(self, D, heads, ratio, lk, attn_thr):
        super().__init__()
        self.attn = SDSA(D, heads, lk, attn_thr)
        self.mlp = SDTMLP(D, ratio, lk)

    def forward(self, x):
        x = x + self.attn(x)
        x = x + self.mlp(x)
        return x


class SpikeDrivenTransformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = dict(cfg)
        D = cfg["dim"]
        lk = default_lif_kwargs(cfg)
        self.T = cfg["time_steps"]
        self.sps = SDTSPS(cfg["in_channels"], D, cfg["pools"], lk)
        self.blocks = nn.ModuleList([SDTBlock(D, cfg["heads"], cfg["mlp_ratio"], lk, cfg["attention_v_threshold"])
                                     for _ in range(cfg["depth"])])
        self.head_lif = LIF(**lk)
        self.head = nn.Linear(D, cfg["num_classes"])

    def forward(self, x):
        x = x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1)
        x = self.sps(x)
        for blk in self.blocks:
            x = blk(x)
        x = x.flatten(3).mean(3)   # (T,B,D) mean over tokens
        x = self.head_lif(x)
        x = self.head(x)
        return x.mean(0)


# --------------------------------------------------------------------------------------------
# configs
# --------------------------------------------------------------------------------------------
ARCH_NAMES = {"spikformer": "spikformer", "sdt": "spike-driven-transformer",
              "spike-driven-transformer": "spike-driven-transformer"}


def make_config(arch="spikformer", dim=192, depth=2, heads=8, time_steps=4, image_size=28, in_channels=1,
                num_classes=10, mlp_ratio=4, tau=2.0, v_threshold=1.0, v_reset=0.0, decay_input=True,
                attention_v_threshold=0.5, pools=None):
    if pools is None:
        pools = 2 if image_size <= 64 else 4
    if dim % 8 != 0 or dim % heads != 0:
        raise ValueError("dim must be divisible by 8 and by heads")
    return {"arch": ARCH_NAMES[arch], "dim": dim, "depth": depth, "heads": heads, "time_steps": time_steps,
            "image_size": image_size, "in_channels": in_channels, "num_classes": num_classes,
            "mlp_ratio": mlp_ratio, "tau": tau, "v_threshold": v_threshold, "v_reset": v_reset,
            "decay_input": decay_input, "attention_v_threshold": attention_v_threshold, "pools": pools}


def imagenet_config(arch="spikformer", dim=768, depth=8, heads=12):
    """Spikformer-8-768 / SDT-8-768 shape for 224x224x3, 1000 classes (4 maxpools -> 14x14 tokens)."""
    return make_config(arch, dim=dim, depth=depth, heads=heads, image_size=224, in_channels=3,
                       num_classes=1000, pools=4)


def build_model(cfg):
    if cfg["arch"] == "spikformer":
        return Spikformer(cfg)
    if cfg["arch"] == "spike-driven-transformer":
        return SpikeDrivenTransformer(cfg)
    raise ValueError("unknown arch " + str(cfg["arch"]))


def count_params(model):
    return sum(p.numel() for p in model.parameters())


def lif_modules(model):
    return [m for m in model.modules() if isinstance(m, LIF)]


@torch.no_grad()
def firing_rates(model, x):
    """Mean spike rate of each LIF layer on input x (eval mode)."""
    lifs = [(n, m) for n, m in model.named_modules() if isinstance(m, LIF)]
    for _, m in lifs:
        m.record = []
    model(x)
    rates = {n: float(torch.cat([r.flatten() for r in m.record]).mean()) for n, m in lifs}
    for _, m in lifs:
        m.record = None
    return rates


@torch.no_grad()
def randomize_bn(model, calib_x, seed=0, gamma=(0.6, 1.6), beta=(0.1, 0.7), layerwise=True):
    """Random-weight models: set BN running stats from a calibration pass (so every layer sees
    normalised inputs), then randomise gamma/beta/running stats so the LIF layers fire at a
    moderate rate. Deterministic for a seed."""
    g = torch.Generator().manual_seed(seed)
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    # calibrate layer by layer so each layer's stats see the previous layers' final (randomised) outputs
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    was_training = model.training
    if not layerwise:  # one calibration pass for all BNs (big models)
        model.eval()
        for bn in bns:
            bn.train()
        model(calib_x)
    for bn in bns:
        if layerwise:  # stats for this BN with all others (already randomised) in eval mode
            model.eval()
            bn.train()
            model(calib_x)
        bn.eval()
        n = bn.num_features
        bn.weight.copy_(torch.empty(n).uniform_(gamma[0], gamma[1], generator=g))
        bn.bias.copy_(torch.empty(n).uniform_(beta[0], beta[1], generator=g))
        std = bn.running_var.clamp_min(1e-6).sqrt()
        bn.running_mean.add_(torch.randn(n, generator=g) * 0.1 * std)
        bn.running_var.mul_(torch.empty(n).uniform_(0.8, 1.25, generator=g))
        bn.momentum = 0.1
    model.train(was_training)
    return model

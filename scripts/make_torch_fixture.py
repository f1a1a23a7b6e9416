#!/usr/bin/python3
# Writes tests/fixtures/torch_reference.safetensors: PyTorch's parameters, logits, loss,
# gradients and a few optimizer steps for the keras-mnist and lenet presets on 8 real
# MNIST images, which tests/nn/torch_reference_test.cpp reproduces without Python; and
# tests/fixtures/torch_reference_bn.safetensors for a small network with the layers of
# issue 7 (batch norm, same padding, global average pooling, leakyrelu/elu/gelu).
#
# Run from the repository root with Debian's torch:  /usr/bin/python3 scripts/make_torch_fixture.py
#
# Layout (every tensor F32; NET is "keras" or "lenet"):
#   NET/x [8,1,28,28], NET/labels [8], NET/<param> (initial), NET/logits [8,10],
#   NET/probs [8,10] (softmax of the logits), NET/loss [1], NET/grad/<param>,
#   NET/step_losses [3] (loss before each step), NET/after3/<param>;
#   variants keras/adamw/... and lenet/nesterov/... hold step_losses and after3/<param>
#   for other optimizer settings from the same initial parameters.
import copy
import gzip
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNIST = "/work/shared/data/mnist"
OUT = os.path.join(ROOT, "tests", "fixtures", "torch_reference.safetensors")
OUT_BN = os.path.join(ROOT, "tests", "fixtures", "torch_reference_bn.safetensors")
COMMAND = "/usr/bin/python3 scripts/make_torch_fixture.py"
BATCH = 8
STEPS = 3


def read_idx(path, magic, header):
    with gzip.open(path, "rb") as f:
        data = f.read()
    if struct.unpack(">I", data[:4])[0] != magic:
        raise SystemExit(f"{path}: not an IDX file with magic {magic}")
    return np.frombuffer(data, dtype=np.uint8, offset=header)


def first_images(n):
    images = read_idx(os.path.join(MNIST, "train-images-idx3-ubyte.gz"), 2051, 16)
    labels = read_idx(os.path.join(MNIST, "train-labels-idx1-ubyte.gz"), 2049, 8)
    pixels = images[: n * 28 * 28].reshape(n, 1, 28, 28).astype(np.float32)
    return pixels, labels[:n].astype(np.int64)


def keras_mnist():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1600, 10), nn.Softmax(dim=1))


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


def logits_of(net, x):
    # Cross-entropy is taken on the logits: the output before a trailing softmax.
    body = net[:-1] if isinstance(net[-1], nn.Softmax) else net
    return body(x)


def run_steps(net, make_opt, x, y, out, prefix):
    opt = make_opt(net.parameters())
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = F.cross_entropy(logits_of(net, x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    out[prefix + "step_losses"] = torch.tensor(losses, dtype=torch.float32)
    for name, p in net.named_parameters():
        out[prefix + "after3/" + name] = p.detach().clone()


def record(tag, seed, make_net, x, y, make_opt, variants):
    torch.manual_seed(seed)
    net = make_net()
    initial = copy.deepcopy(net)
    out = {f"{tag}/x": x, f"{tag}/labels": y.to(torch.float32)}
    for name, p in net.named_parameters():
        out[f"{tag}/{name}"] = p.detach().clone()
    logits = logits_of(net, x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    out[f"{tag}/logits"] = logits.detach().clone()
    out[f"{tag}/probs"] = torch.softmax(logits.detach(), dim=1)
    out[f"{tag}/loss"] = loss.detach().reshape(1)
    for name, p in net.named_parameters():
        out[f"{tag}/grad/{name}"] = p.grad.detach().clone()
    run_steps(copy.deepcopy(initial), make_opt, x, y, out, f"{tag}/")
    for vname, vopt in variants.items():
        run_steps(copy.deepcopy(initial), vopt, x, y, out, f"{tag}/{vname}/")
    return out


BN_SPEC = ("conv(8,3,pad=same) batchnorm leakyrelu(0.1) maxpool(2) conv(16,3) batchnorm elu(1) maxpool(2) "
           "conv(16,3,pad=same) batchnorm(momentum=none) gelu gap flatten dense(24) batchnorm(eps=0.001) gelu dense(10)")


def bn_net():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding="same"), nn.BatchNorm2d(8), nn.LeakyReLU(0.1), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3), nn.BatchNorm2d(16), nn.ELU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 16, 3, padding="same"), nn.BatchNorm2d(16, momentum=None), nn.GELU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(16, 24), nn.BatchNorm1d(24, eps=1e-3), nn.GELU(), nn.Linear(24, 10))


def bn_steps(net, x, y, out, prefix, frozen=()):
    # Frozen layers as a PyTorch user freezes them: no gradients, batch norm in eval().
    for i in frozen:
        net[i].requires_grad_(False)
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.05, momentum=0.9)
    losses = []
    for _ in range(STEPS):
        net.train()
        for i in frozen:
            net[i].eval()
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    out[prefix + "step_losses"] = torch.tensor(losses, dtype=torch.float32)
    for name, t in net.state_dict().items():
        out[prefix + "after3/" + name] = t.detach().clone()
    net.eval()
    out[prefix + "after3/eval_logits"] = net(x).detach().clone()


# The batch-norm network: non-default affine parameters and running statistics (so eval
# mode and the momentum=None average are exercised), train-mode logits, loss with and
# without label smoothing, gradients, running statistics after that forward, eval-mode
# logits, and three SGD steps with and without the first conv + batch norm frozen.
def record_bn(x, y):
    torch.manual_seed(2)
    net = bn_net()
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(5)
    initial = copy.deepcopy(net)
    out = {"bn/x": x, "bn/labels": y.to(torch.float32)}
    for name, t in net.state_dict().items():
        out["bn/" + name] = t.detach().clone()
    net.eval()
    out["bn/eval_logits"] = net(x).detach().clone()
    net.train()
    logits = net(x)
    logits.retain_grad()
    loss = F.cross_entropy(logits, y)
    loss.backward(retain_graph=True)
    out["bn/logits"] = logits.detach().clone()
    out["bn/loss"] = loss.detach().reshape(1)
    for name, p in net.named_parameters():
        out["bn/grad/" + name] = p.grad.detach().clone()
    for name, t in net.state_dict().items():
        if "running" in name or "num_batches" in name:
            out["bn/train1/" + name] = t.detach().clone()
    smooth_logits = logits.detach().clone().requires_grad_(True)
    smooth = F.cross_entropy(smooth_logits, y, label_smoothing=0.1)
    smooth.backward()
    out["bn/loss_smooth"] = smooth.detach().reshape(1)
    out["bn/dlogits_smooth"] = smooth_logits.grad.detach().clone()
    bn_steps(copy.deepcopy(initial), x, y, out, "bn/")
    bn_steps(copy.deepcopy(initial), x, y, out, "bn/frozen/", frozen=(0, 1))
    # Our files hold num_batches_tracked as F32 of shape [1]; PyTorch must accept that.
    ours = {k: (v.float().reshape(1) if "num_batches" in k else v) for k, v in initial.state_dict().items()}
    copy.deepcopy(initial).load_state_dict(ours)
    metadata = {
        "bn_spec": BN_SPEC,
        "bn_input": "first 8 MNIST training images, (pixels/255-0.1307)/0.3081, seed 2",
        "bn_optimizer": "SGD(lr=0.05, momentum=0.9), 3 steps; frozen: layers 0-1 requires_grad False and BN eval()",
        "bn_label_smoothing": "0.1",
    }
    return out, metadata


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name, t in tensors.items():
        # int64 only for counters such as num_batches_tracked, as PyTorch stores them.
        dtype, np_type = ("I64", "<i8") if t.dtype == torch.int64 else ("F32", "<f4")
        b = t.detach().contiguous().numpy().astype(np_type).tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    pixels, labels = first_images(BATCH)
    y = torch.from_numpy(labels)
    x_scale = torch.from_numpy(pixels / 255.0)
    x_std = torch.from_numpy((pixels / 255.0 - 0.1307) / 0.3081).to(torch.float32)

    tensors = {}
    # keras-mnist: Adam with Keras' eps (the preset's recipe).
    tensors.update(record(
        "keras", 0, keras_mnist, x_scale, y,
        lambda p: torch.optim.Adam(p, lr=1e-3, betas=(0.9, 0.999), eps=1e-7),
        {"adamw": lambda p: torch.optim.AdamW(p, lr=1e-3, betas=(0.9, 0.999), eps=1e-7, weight_decay=0.1)}))
    # lenet: SGD with momentum, lr 0.01 (10x the recipe's so three steps move measurably).
    tensors.update(record(
        "lenet", 1, lenet, x_std, y,
        lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9),
        {"nesterov": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.01)}))

    for name, t in tensors.items():
        assert t.dtype == torch.float32, name
    metadata = {
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "command": COMMAND,
        "keras_spec": "conv(32,3) relu maxpool(2) conv(64,3) relu maxpool(2) flatten dense(10) softmax",
        "keras_optimizer": "Adam(lr=1e-3, betas=(0.9,0.999), eps=1e-7); adamw: AdamW(same, weight_decay=0.1)",
        "keras_input": "first 8 MNIST training images, pixels/255, seed 0",
        "lenet_spec": "conv(6,3) relu maxpool(2) conv(16,3) relu maxpool(2) flatten dense(120) relu dense(84) relu dense(10)",
        "lenet_optimizer": "SGD(lr=0.01, momentum=0.9); nesterov: SGD(same, nesterov=True, weight_decay=0.01)",
        "lenet_input": "first 8 MNIST training images, (pixels/255-0.1307)/0.3081, seed 1",
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    write_safetensors(OUT, tensors, metadata)
    print(f"wrote {OUT}: {len(tensors)} tensors, {os.path.getsize(OUT)} bytes", file=sys.stderr)

    bn_tensors, bn_metadata = record_bn(x_std, y)
    bn_metadata.update({"torch_version": torch.__version__, "numpy_version": np.__version__, "command": COMMAND})
    write_safetensors(OUT_BN, bn_tensors, bn_metadata)
    print(f"wrote {OUT_BN}: {len(bn_tensors)} tensors, {os.path.getsize(OUT_BN)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()

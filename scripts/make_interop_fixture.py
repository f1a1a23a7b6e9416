#!/usr/bin/python3
# Writes tests/fixtures/interop/: proof that weights move between PyTorch and mnistcnn
# with the same logits, checked by tests/io/interop_test.cpp without Python.
#
#   torch_named_state_dict.safetensors  the state_dict of a PyTorch module with named layers
#                                       (conv1, conv2, fc) = keras-mnist, as
#                                       safetensors.torch.save_file writes it
#   interop_expected.safetensors        x [8,1,28,28] (MNIST test images, pixels/255),
#                                       torch_logits [8,10] of that module, and
#                                       mnistcnn_logits_in_torch [8,10]: the logits PyTorch
#                                       computes after load_state_dict(strict=True) of
#                                       mnistcnn_keras_mnist.safetensors (written by
#                                       `mnistcnn train --preset keras-mnist --data DIR --limit 2000
#                                       --epochs 1 --no-val --seed 3 --out ...`)
#
# Run from the repository root with Debian's torch:  /usr/bin/python3 scripts/make_interop_fixture.py
import gzip
import json
import os
import struct

import numpy as np
import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIR = os.path.join(ROOT, "tests", "fixtures", "interop")
MNIST = os.path.join(ROOT, "..", "shared", "data", "mnist")


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", name
        a, b = info["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[8 + n + a:8 + n + b], dtype="<f4").reshape(info["shape"]).copy())
    return out, meta


def write_safetensors(path, tensors, metadata):
    # The layout safetensors.torch.save_file writes: a JSON header padded to 8 bytes,
    # then the tensors' little-endian bytes back to back.
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, t in tensors.items():
        b = t.detach().contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


class Net(nn.Module):
    """keras-mnist written the way PyTorch users write models: named layers, F.relu."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.fc = nn.Linear(1600, 10)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.fc(torch.flatten(x, 1))  # flatten in C×H×W order


def keras_mnist_sequential():
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 10), nn.Softmax(dim=1))


def main():
    with gzip.open(os.path.join(MNIST, "t10k-images-idx3-ubyte.gz"), "rb") as f:
        pixels = np.frombuffer(f.read(), dtype=np.uint8, offset=16)[:8 * 784]
    x = torch.from_numpy(pixels.reshape(8, 1, 28, 28).astype(np.float32) / 255.0)

    torch.manual_seed(2026)
    net = Net().eval()
    with torch.no_grad():
        torch_logits = net(x)
    write_safetensors(os.path.join(DIR, "torch_named_state_dict.safetensors"), net.state_dict(), {"format": "pt"})

    # mnistcnn -> PyTorch: the model file's tensors are a state_dict of nn.Sequential.
    weights, meta = read_safetensors(os.path.join(DIR, "mnistcnn_keras_mnist.safetensors"))
    assert meta["arch"] == "conv(32,3) relu maxpool(2) conv(64,3) relu maxpool(2) flatten dense(10) softmax", meta["arch"]
    seq = keras_mnist_sequential().eval()
    seq.load_state_dict(weights, strict=True)
    with torch.no_grad():
        ours_in_torch = seq[:-1](x)  # logits: everything but the softmax

    write_safetensors(os.path.join(DIR, "interop_expected.safetensors"),
                      {"x": x, "torch_logits": torch_logits, "mnistcnn_logits_in_torch": ours_in_torch},
                      {"made_by": "/usr/bin/python3 scripts/make_interop_fixture.py", "torch": torch.__version__})
    print("wrote", DIR)


if __name__ == "__main__":
    main()

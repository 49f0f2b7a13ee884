#!/usr/bin/python3
"""Writes a PyTorch model as DIR/NAME.onnx and DIR/NAME.pt, the pair calma's
PyTorch conversions compare: TORCH_EAGER runs the ONNX graph on ATen,
TORCHSCRIPT and TORCHSCRIPT_FROZEN run the TorchScript file, and calma bench
finds NAME.pt beside NAME.onnx by itself.

usage: scripts/torch_export.py NAME DIR [--opset N] [--seed S] [--batch B]
NAME: resnet18, mobilenet_v2, mobilenet_v3_small (torchvision, seeded
random weights), tiny (a small CNN), encoder (a 2-layer
nn.TransformerEncoder). The ONNX file has a symbolic batch axis N; the
TorchScript file is traced (torch.jit.trace) at batch B (default 1).

Run with Debian's /usr/bin/python3 (python3-torch, python3-torchvision).
Importable: export(module, example, dir, name, opset) is what the tests use."""
import argparse
import os
import sys

import torch


class Tiny(torch.nn.Module):
    """Conv-BN-ReLU, a pool, a linear layer and a softmax on 3x16x16."""

    def __init__(self, classes=4):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.fc = torch.nn.Linear(8, classes)

    def forward(self, x):
        y = torch.relu(self.bn(self.conv(x)))
        y = torch.nn.functional.adaptive_avg_pool2d(y, 1).flatten(1)
        return torch.softmax(self.fc(y), dim=1)


def encoder():
    layer = torch.nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64,
                                             dropout=0.0, activation="gelu", batch_first=True)
    return torch.nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)


def build(name):
    """The module (eval mode) and an example input at batch 1."""
    image = torch.randn(1, 3, 224, 224)
    if name == "tiny":
        return Tiny(), torch.randn(1, 3, 16, 16)
    if name == "encoder":
        return encoder(), torch.randn(1, 10, 32)
    import torchvision
    if name in ("resnet18", "mobilenet_v2", "mobilenet_v3_small"):
        return getattr(torchvision.models, name)(weights=None), image
    raise SystemExit(f"torch_export.py: unknown model '{name}' (see --help)")


def randomise_statistics(module):
    """Running statistics a trained network would have, so BatchNorm is not
    the identity it is at initialisation."""
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)


def export(module, example, out_dir, name, opset=17, batch=1):
    """DIR/NAME.onnx (batch axis N) and DIR/NAME.pt (traced); returns both paths."""
    module = module.eval()
    os.makedirs(out_dir, exist_ok=True)
    onnx_path = os.path.join(out_dir, name + ".onnx")
    pt_path = os.path.join(out_dir, name + ".pt")
    examples = example if isinstance(example, tuple) else (example,)
    names = [f"input{i}" if len(examples) > 1 else "input" for i in range(len(examples))]
    # Not under no_grad: there nn.TransformerEncoder takes its fused fast path
    # (aten::_transformer_encoder_layer_fwd), which has no ONNX export.
    torch.onnx.export(module, examples, onnx_path, input_names=names, output_names=["output"],
                      opset_version=opset, dynamic_axes={n: {0: "N"} for n in names + ["output"]})
    traced = tuple(e.repeat(batch, *[1] * (e.dim() - 1)) for e in examples)
    # check_trace off: the encoder's graph differs between checks by its fast-path test
    torch.jit.trace(module, traced, check_trace=False).save(pt_path)
    return onnx_path, pt_path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("name")
    ap.add_argument("dir")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=1)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    module, example = build(a.name)
    randomise_statistics(module)
    onnx_path, pt_path = export(module, example, a.dir, a.name, a.opset, a.batch)
    print(onnx_path)
    print(pt_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

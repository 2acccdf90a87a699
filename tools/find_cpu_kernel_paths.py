"""Which environment variables change the arithmetic of PyTorch's CPU build
on this machine: runs a few operations of the kind the notebooks use, in a
fresh process per setting, and prints which results differ, in any bit,
from those of the machine's own kernels.

    python -m tools.find_cpu_kernel_paths

What it found is in CONTRIBUTING.md; the settings that changed something
make up KERNEL_SETS in tools/cpu_kernel_sets.py.
"""
import json
import os
import subprocess
import sys

from tools.cpu_kernel_sets import environment

# Each probe returns tensors; their bytes are what is compared. Sizes follow
# the notebooks: the chapter's (16, 1) linear model, notebook 02's small
# convolution, notebook 03's window network, and reductions long enough to
# be split into vector lanes and threads
PROBES = r'''
import hashlib, json, sys
import torch
import torch.nn as nn

torch.manual_seed(0)


def fwd_bwd(model, inputs, targets, loss_fn):
    loss = loss_fn(model(inputs), targets)
    loss.backward()
    return [loss.detach()] + [p.grad for p in model.parameters()]


def adam_steps(model, inputs, targets, loss_fn, steps=20):
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005)
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(model(inputs), targets).backward()
        optimizer.step()
    return [p.detach() for p in model.parameters()]


# Inputs from torch.rand, whose bits no setting changes (randn's do)
x16, y16 = torch.rand(16, 1), torch.rand(16, 1)
windows, targets = torch.rand(128, 20) * 2 - 1, torch.rand(128, 1)
images, labels = torch.rand(16, 1, 28, 28), torch.randint(0, 2, (16, 1)).float()
long = torch.rand(100_003) * 2 - 1


def window_net(dtype=torch.float32):
    torch.manual_seed(42)
    return nn.Sequential(nn.Linear(20, 256, dtype=dtype), nn.ReLU(), nn.Linear(256, 1, dtype=dtype))


def conv_net():
    torch.manual_seed(42)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(4, 1))


def linear():
    torch.manual_seed(42)
    return nn.Sequential(nn.Linear(1, 1))


probes = {
    'torch.randn, a new layer\'s weights': lambda: [torch.randn(1000), nn.Linear(20, 256).weight.detach()],
    'linear (16, 1): forward, backward': lambda: fwd_bwd(linear(), x16, y16, nn.MSELoss()),
    'window network (128, 20, 256): forward, backward': lambda: fwd_bwd(window_net(), windows, targets, nn.MSELoss()),
    'window network: 20 Adam steps': lambda: adam_steps(window_net(), windows, targets, nn.MSELoss()),
    'window network in float64: 20 Adam steps': lambda: adam_steps(
        window_net(torch.float64), windows.double(), targets.double(), nn.MSELoss()),
    'convolution (16, 1, 28, 28): forward, backward': lambda: fwd_bwd(
        conv_net(), images, labels, nn.BCEWithLogitsLoss()),
    'matrix product (512, 512)': lambda: [torch.rand(512, 512) @ torch.rand(512, 512)],
    'sum and mean of 100,003 numbers': lambda: [long.sum(), long.mean(), (long * long).mean()],
    'exp, tanh, sigmoid, log of 100,003 numbers': lambda: [long.exp(), long.tanh(), long.sigmoid(), long.abs().log()],
}
print(json.dumps({name: hashlib.sha256(b''.join(t.numpy().tobytes() for t in probe())).hexdigest()[:12]
                  for name, probe in probes.items()}))
'''


def in_fresh_python(code, settings):
    """What `code` prints in a fresh Python with `settings` in its environment."""
    return subprocess.run([sys.executable, '-c', code], env=environment(settings), capture_output=True,
                          text=True, check=True).stdout


SETTINGS = [
    {'ATEN_CPU_CAPABILITY': 'default'},
    {'ATEN_CPU_CAPABILITY': 'avx2'},
    {'ATEN_CPU_CAPABILITY': 'avx512'},
    {'MKL_ENABLE_INSTRUCTIONS': 'SSE4_2'},
    {'MKL_ENABLE_INSTRUCTIONS': 'AVX2'},
    {'MKL_CBWR': 'COMPATIBLE'},
    {'MKL_CBWR': 'AVX2'},
    {'ONEDNN_MAX_CPU_ISA': 'SSE41'},
    {'ONEDNN_MAX_CPU_ISA': 'AVX2'},
    {'OMP_NUM_THREADS': '1'},
    {'OMP_NUM_THREADS': '4'},
]


def main():
    capability = in_fresh_python('import torch; print(torch.backends.cpu.get_cpu_capability())', {}).strip()
    print(f'ATen kernels chosen here: {capability}; {os.cpu_count()} cores')
    reference = json.loads(in_fresh_python(PROBES, {}))
    for setting in SETTINGS:
        label = ' '.join(f'{name}={value}' for name, value in setting.items())
        digests = json.loads(in_fresh_python(PROBES, setting))
        changed = [name for name, digest in digests.items() if digest != reference[name]]
        print(f'{label:34} changes: {", ".join(changed) if changed else "nothing"}')


if __name__ == '__main__':
    main()

"""Writes torch_windows.json: torch's float32 window values (base64 of the little-endian
bytes) for a few lengths, so tests/test_windows.py can check compat windows without
torch. Run: python tests/data/make_torch_windows.py (needs torch)."""

import base64
import json
import pathlib

import torch

NAMES = ("hann", "hamming", "blackman", "bartlett")
LENGTHS = (1, 2, 3, 5, 16, 63, 240, 512, 600)

values = {f"{name}-{n}": base64.b64encode(
              getattr(torch, f"{name}_window")(n).numpy().astype("<f4").tobytes()).decode()
          for name in NAMES for n in LENGTHS}
out = pathlib.Path(__file__).with_name("torch_windows.json")
out.write_text(json.dumps({"torch": torch.__version__, "values": values}, indent=0) + "\n")

"""Run auraloss 0.4.0 on every parity case and store its values in tests/data.

    pip install torch==2.13.0 auraloss==0.4.0
    python tests/parity/make_golden.py

The stored file is small (one number, or a few, per case) and is checked on every test run.
"""

import json
import pathlib
import platform
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE.parent)]

from parity.cases import auraloss_value, case_ids   # noqa: E402

OUT = HERE.parent / "data" / "auraloss_golden.json"


def main():
    import auraloss
    import torch
    torch.set_num_threads(1)
    values = {case: auraloss_value(case).tolist() for case in case_ids()}
    meta = {"auraloss": auraloss.__version__ if hasattr(auraloss, "__version__") else "0.4.0",
            "torch": torch.__version__, "python": platform.python_version(),
            "made_by": "tests/parity/make_golden.py"}
    OUT.write_text(json.dumps({"meta": meta, "values": values}, indent=1) + "\n")
    print(f"wrote {len(values)} cases to {OUT}")


if __name__ == "__main__":
    main()

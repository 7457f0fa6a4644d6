"""The statistics layer stays light: building and fitting workspaces never imports torch."""

from __future__ import annotations

import subprocess
import sys


def test_workspace_modules_do_not_import_torch() -> None:
    code = (
        "import sys\n"
        "import gbi.workspace, gbi.workspace.amplification, gbi.workspace.fit, gbi.metrics\n"
        "from gbi.workspace.amplification import ensemble_histosys, unit_template\n"
        "import numpy as np\n"
        "u = [unit_template(np.array([0.1, 0.6]), [0.0, 0.5, 1.0], 4, label=str(k)) for k in (0, 1)]\n"
        "ensemble_histosys(u)\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))[:3])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]", out.stdout

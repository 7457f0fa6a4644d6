"""One trained flow in physical units: density and batched sampling.

:class:`FlowMember` couples a zuko flow with the feature and context preprocessing. It
takes and returns float64 NumPy arrays in physical units (GeV for masses):
``log_prob`` includes the Jacobian of the preprocessing, so it is a density per unit of
the physical features, and ``sample`` inverts the preprocessing exactly.

>>> import numpy as np, torch
>>> from gbi.flows.models import FlowConfig, build_flow
>>> from gbi.flows.preprocessing import Preprocessor
>>> cfg = FlowConfig(flow="maf", features=("a", "b"), transforms=1, hidden_features=(8,))
>>> pre = Preprocessor(cfg.features, kinds="standard").fit(np.random.default_rng(0).normal(size=(100, 2)))
>>> member = FlowMember(cfg, build_flow(cfg), pre)
>>> x = member.sample(10, seed=1)
>>> x.shape, member.log_prob(x).shape
((10, 2), (10,))
>>> bool(np.array_equal(member.sample(10, seed=1), x))
True
"""

from __future__ import annotations

import threading
from types import TracebackType

import numpy as np
import torch

from gbi.errors import GbiInputError
from gbi.flows.models import FlowConfig
from gbi.flows.preprocessing import Preprocessor

__all__ = ["FlowMember", "seeded_torch"]


# torch's RNG is process-wide: two threads sampling with their own seeds at the same time
# (dask's threaded scheduler) would interleave draws and lose reproducibility, so seeded
# sections are serialised.
_RNG_LOCK = threading.RLock()


class seeded_torch:
    """Context manager: fork the torch RNG of ``device`` and seed it (no global side effect).

    Thread-safe: seeded sections run one at a time in a process, so a seed gives the same
    events whichever thread runs it.
    """

    def __init__(self, seed: int, device: torch.device) -> None:
        self.seed = int(seed) % (2**63)
        devices = [device.index or 0] if device.type == "cuda" else []
        self._fork = torch.random.fork_rng(devices=devices)

    def __enter__(self) -> None:
        _RNG_LOCK.acquire()
        try:
            self._fork.__enter__()
            torch.manual_seed(self.seed)
        except BaseException:
            _RNG_LOCK.release()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self._fork.__exit__(exc_type, exc, traceback)
        finally:
            _RNG_LOCK.release()


class FlowMember:
    """A trained flow with its preprocessing, on ``device``.

    Parameters
    ----------
    config
        The architecture and columns.
    flow
        The zuko flow (moved to ``device`` and put in eval mode).
    feature_pre, context_pre
        Fitted preprocessing of the features and of the context (``None`` if unconditional).
    """

    def __init__(
        self,
        config: FlowConfig,
        flow: torch.nn.Module,
        feature_pre: Preprocessor,
        context_pre: Preprocessor | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        self.config = config
        self.device = torch.device(device)
        self.flow = flow.to(self.device).eval()
        self.feature_pre = feature_pre
        self.context_pre = context_pre

    @property
    def conditional(self) -> bool:
        """Whether the flow models ``p(features | context)``."""
        return bool(self.config.context)

    def _context_tensor(self, context: np.ndarray | None, n: int) -> torch.Tensor | None:
        if not self.conditional:
            if context is not None and np.size(context):
                raise GbiInputError(
                    "context: the model is unconditional, found context values; drop them"
                )
            return None
        if context is None:
            raise GbiInputError(
                f"context: the model is conditional on {list(self.config.context)}, found no "
                "context; pass context values (e.g. --context-from FILE)"
            )
        c = np.asarray(context, dtype=np.float64)
        if c.ndim == 1:
            c = c[:, None]
        if c.shape != (n, len(self.config.context)):
            raise GbiInputError(
                f"context: expected shape ({n}, {len(self.config.context)}) for columns "
                f"{list(self.config.context)}, found {c.shape}"
            )
        assert self.context_pre is not None
        return torch.as_tensor(
            self.context_pre.transform(c), dtype=torch.float32, device=self.device
        )

    def inside(self, x: np.ndarray, context: np.ndarray | None = None) -> np.ndarray:
        """Whether each event (``x (n, d)``, ``context (n, c)``, physical units) lies inside
        the range the flow was trained on (:meth:`Preprocessor.inside`); bool ``(n,)``."""
        ok = self.feature_pre.inside(np.asarray(x, dtype=np.float64))
        if self.context_pre is not None and context is not None:
            c = np.asarray(context, dtype=np.float64)
            ok &= self.context_pre.inside(c[:, None] if c.ndim == 1 else c)
        return ok

    @torch.no_grad()
    def log_prob(
        self, x: np.ndarray, context: np.ndarray | None = None, batch_size: int = 65536
    ) -> np.ndarray:
        """Log density at ``x`` (shape ``(n, d)``, physical units) given ``context`` ``(n, c)``.

        Returns float64 of shape ``(n,)``, in nats per unit volume of the physical features.
        """
        x = np.asarray(x, dtype=np.float64)
        z = self.feature_pre.transform(x)
        logdet = self.feature_pre.log_abs_det(x)
        c = self._context_tensor(context, len(x))
        out = np.empty(len(x))
        for start in range(0, len(x), batch_size):
            sl = slice(start, start + batch_size)
            zt = torch.as_tensor(z[sl], dtype=torch.float32, device=self.device)
            lp = self.flow(None if c is None else c[sl]).log_prob(zt)
            out[sl] = lp.cpu().numpy()
        return out + logdet

    @torch.inference_mode()
    def sample(
        self,
        n: int,
        context: np.ndarray | None = None,
        seed: int | None = None,
        batch_size: int = 16_384,
    ) -> np.ndarray:
        """Draw ``n`` events, float64 of shape ``(n, d)`` in physical units.

        ``context`` (shape ``(n, c)``) is required for conditional flows. Memory is bounded
        by ``batch_size`` events of flow tensors at a time. A fixed ``seed`` gives the same
        events for the same ``batch_size`` and device.
        """
        n = int(n)
        if n < 0:
            raise GbiInputError(f"number of events: expected >= 0, found {n}")
        c = self._context_tensor(context, n)
        d = len(self.config.features)
        z = np.empty((n, d))
        if seed is None:
            seed = int(np.random.default_rng().integers(2**63))
        with seeded_torch(seed, self.device):
            for start in range(0, n, batch_size):
                stop = min(n, start + batch_size)
                if c is None:
                    s = self.flow().sample((stop - start,))
                else:
                    s = self.flow(c[start:stop]).sample()
                # float32 -> float64 in NumPy's assignment (exact), no extra torch copy
                z[start:stop] = s.cpu().numpy()
        return self.feature_pre.inverse(z)

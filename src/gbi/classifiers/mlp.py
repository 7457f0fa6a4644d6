"""PyTorch MLP binary classifier with weighted BCE, early stopping and best-epoch restore."""

from __future__ import annotations

import copy

import numpy as np
import torch

from gbi.classifiers.config import ClassifierConfig, balanced_weights
from gbi.device import resolve_device

__all__ = ["MLPClassifier"]


class MLPClassifier:
    """Fully connected network, SiLU activations, one logit output."""

    def __init__(self, config: ClassifierConfig) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        self.network: torch.nn.Module | None = None
        self.mean: np.ndarray | None = None
        self.scale: np.ndarray | None = None

    def _build(self, n_features: int) -> torch.nn.Module:
        layers: list[torch.nn.Module] = []
        width = n_features
        for hidden in self.config.hidden:
            layers += [torch.nn.Linear(width, hidden), torch.nn.SiLU()]
            width = hidden
        layers.append(torch.nn.Linear(width, 1))
        return torch.nn.Sequential(*layers).to(self.device)

    def _tensor(self, x: np.ndarray) -> torch.Tensor:
        assert self.mean is not None, "fit or load the classifier first"
        assert self.scale is not None, "fit or load the classifier first"
        scaled = (np.asarray(x, dtype=np.float64) - self.mean) / self.scale
        return torch.as_tensor(scaled, dtype=torch.float32, device=self.device)

    def fit(self, x, y, sample_weight, x_val, y_val, w_val):
        cfg = self.config
        generator = torch.Generator(device="cpu").manual_seed(cfg.seed)
        torch.manual_seed(cfg.seed)
        self.mean = x.mean(axis=0)
        self.scale = np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
        self.network = self._build(x.shape[1])
        xt, xv = self._tensor(x), self._tensor(x_val)
        yt = torch.as_tensor(y, dtype=torch.float32, device=self.device)
        yv = torch.as_tensor(y_val, dtype=torch.float32, device=self.device)
        wt = torch.as_tensor(
            balanced_weights(y, sample_weight), dtype=torch.float32, device=self.device
        )
        wv = torch.as_tensor(
            balanced_weights(y_val, w_val), dtype=torch.float32, device=self.device
        )
        optimizer = torch.optim.Adam(self.network.parameters(), lr=cfg.lr)
        loss_fn = torch.nn.BCEWithLogitsLoss(reduction="none")
        best_loss, best_state, stale = float("inf"), None, 0
        self.history: list[tuple[float, float]] = []
        for _ in range(cfg.epochs):
            self.network.train()
            order = torch.randperm(len(xt), generator=generator).to(self.device)
            total = 0.0
            for start in range(0, len(xt), cfg.batch_size):
                batch = order[start : start + cfg.batch_size]
                loss = (loss_fn(self.network(xt[batch]).squeeze(1), yt[batch]) * wt[batch]).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(batch)
            self.network.eval()
            with torch.no_grad():
                val = float((loss_fn(self.network(xv).squeeze(1), yv) * wv).sum() / wv.sum())
            self.history.append((total / len(xt), val))
            if val < best_loss - 1e-5:
                best_loss, best_state, stale = val, copy.deepcopy(self.network.state_dict()), 0
            else:
                stale += 1
                if stale >= cfg.patience:
                    break
        if best_state is not None:
            self.network.load_state_dict(best_state)
        self.val_loss = best_loss
        return self

    def score(self, x: np.ndarray) -> np.ndarray:
        assert self.network is not None, "fit first"
        self.network.eval()
        out = []
        with torch.no_grad():
            xt = self._tensor(x)
            for start in range(0, len(xt), 65536):
                out.append(
                    torch.sigmoid(self.network(xt[start : start + 65536]).squeeze(1)).cpu().numpy()
                )
        return np.concatenate(out).astype(np.float64) if out else np.empty(0)

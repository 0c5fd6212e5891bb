"""The deterministic training loop of tiny FR regressors (:class:`FRTrainer`).

Plain torch loop: AdamW with cosine decay, mini-batches shuffled by a seeded generator, early
stopping on the validation RMSE (of the clamped output when the model clamps), best weights
restored. ``torch.use_deterministic_algorithms(True)`` and a fixed thread count make the same
seed on the same data give the same weights. The ``fit`` run around it is
:mod:`vmaf_train.fit.fr`.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from vmaf_tiny.errors import BadInputError
from vmaf_train.data.dataset import FRData
from vmaf_train.evaluate.predict import normalise_features
from vmaf_train.fit.loop import Determinism
from vmaf_train.models.mlp import FRMLP
from vmaf_train.recipes import ModelConfig

__all__ = ["FRTrainer"]


def _safe_std(x: np.ndarray) -> np.ndarray:
    s = np.asarray(x.std(axis=0), dtype=np.float64)
    return np.where(s > 1e-8, s, 1.0)


class FRTrainer:
    """Fits an :class:`~vmaf_train.models.mlp.FRMLP` from a config.

    Args:
        config: The model recipe.
        seed: Overrides ``config.train.seed`` when given.
        log: Called with one line per logged epoch (None: silent).

    Attributes (after ``fit``):
        model_: The trained module (best validation epoch).
        feature_mean_: Standardisation mean (train split).
        feature_std_: Standardisation std (train split).
        history_: Per-epoch ``{"epoch", "train_rmse", "val_rmse", "lr"}``.
        best_epoch_: Epoch whose weights were kept.
        best_val_rmse_: Its validation RMSE.
        seconds_: Training wall time.
    """

    def __init__(
        self,
        config: ModelConfig,
        *,
        seed: int | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.seed = seed
        self.log = log

    @property
    def seed_(self) -> int:
        return int(self.config.train.seed if self.seed is None else self.seed)

    def _inputs(self, data: FRData) -> tuple[torch.Tensor, ...]:
        x = data.features
        if self.config.arch.normalization == "sidecar":
            x = normalise_features(x, self._sidecar_norm())
        tensors = [torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))]
        if data.codec is not None:
            tensors.append(torch.from_numpy(np.ascontiguousarray(data.codec, dtype=np.float32)))
        return tuple(tensors)

    def _sidecar_norm(self) -> dict[str, Any]:
        return {
            "normalization": {
                "baked": False,
                "feature_mean": [float(v) for v in self.feature_mean_],
                "feature_std": [float(v) for v in self.feature_std_],
            }
        }

    def fit(self, train: FRData, val: FRData) -> FRTrainer:
        """Train on ``train``, early-stop on ``val``; returns self."""
        cfg, tc = self.config, self.config.train
        if train.n < 2 or val.n < 1:
            raise BadInputError(f"too few rows to train: train {train.n}, val {val.n}")
        if (train.codec is None) != (not cfg.arch.codec_block):
            raise BadInputError("codec block presence does not match the config")
        t0 = time.perf_counter()
        # Statistics in float32, the dtype the graph and the runtime use.
        self.feature_mean_ = train.features.mean(axis=0, dtype=np.float64).astype(np.float32)
        self.feature_std_ = _safe_std(train.features.astype(np.float64)).astype(np.float32)
        y_mean = float(train.target.mean())
        y_std = float(train.target.std()) or 1.0
        clamp = tuple(cfg.output.range) if cfg.output.clamp else None
        with Determinism(self.seed_, tc.threads).scoped():
            model = FRMLP(
                n_features=train.features.shape[1],
                codec_width=0 if train.codec is None else train.codec.shape[1],
                hidden=cfg.arch.hidden,
                activation=cfg.arch.activation,
                feature_mean=self.feature_mean_,
                feature_std=self.feature_std_,
                bake_scaler=cfg.arch.normalization == "baked",
                target_mean=y_mean,
                target_std=y_std,
                clamp=clamp,  # type: ignore[arg-type]
            )
            xs_train, xs_val = self._inputs(train), self._inputs(val)
            y_train = torch.from_numpy(train.target.astype(np.float32)).reshape(-1, 1)
            y_val = val.target.astype(np.float64)
            opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=tc.epochs)
            gen = torch.Generator().manual_seed(self.seed_)
            loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = (
                torch.nn.functional.mse_loss
                if tc.loss == "mse"
                else torch.nn.functional.smooth_l1_loss
            )
            history: list[dict[str, float]] = []
            best_rmse, best_epoch = float("inf"), 0
            best_state = copy.deepcopy(model.state_dict())
            n = train.n
            for epoch in range(1, tc.epochs + 1):
                model.train()
                perm = torch.randperm(n, generator=gen)
                sq_sum = 0.0
                for i in range(0, n, tc.batch_size):
                    idx = perm[i : i + tc.batch_size]
                    pred = model.raw(*(x[idx] for x in xs_train))
                    loss = loss_fn(pred / y_std, y_train[idx] / y_std)
                    if not bool(torch.isfinite(loss)):
                        raise BadInputError(
                            f"training diverged at epoch {epoch} (loss={float(loss.detach()):g}); "
                            f"lower train.lr (now {tc.lr:g})"
                        )
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sq_sum += float(((pred.detach() - y_train[idx]) ** 2).sum())
                sched.step()
                model.eval()
                with torch.no_grad():
                    pv = model(*xs_val).numpy().reshape(-1).astype(np.float64)
                val_rmse = float(np.sqrt(np.mean((pv - y_val) ** 2)))
                if not np.isfinite(val_rmse):
                    raise BadInputError(
                        f"training diverged at epoch {epoch} (validation rmse={val_rmse:g}); "
                        f"lower train.lr (now {tc.lr:g})"
                    )
                history.append(
                    {
                        "epoch": epoch,
                        "train_rmse": float(np.sqrt(sq_sum / n)),
                        "val_rmse": val_rmse,
                        "lr": float(opt.param_groups[0]["lr"]),
                    }
                )
                if val_rmse < best_rmse:
                    best_rmse, best_epoch = val_rmse, epoch
                    best_state = copy.deepcopy(model.state_dict())
                elif epoch - best_epoch >= tc.patience and epoch >= tc.min_epochs:
                    break
                if self.log and (epoch == 1 or epoch % 25 == 0):
                    self.log(
                        f"epoch {epoch}: train rmse {history[-1]['train_rmse']:.4f}, "
                        f"val rmse {val_rmse:.4f}"
                    )
            model.load_state_dict(best_state)
            model.eval()
        self.model_ = model
        self.history_ = history
        self.best_epoch_ = best_epoch
        self.best_val_rmse_ = best_rmse
        self.seconds_ = time.perf_counter() - t0
        return self

    def predict(self, data: FRData) -> np.ndarray:
        """Torch predictions (clamped when the config clamps), float64."""
        with torch.no_grad():
            return self.model_(*self._inputs(data)).numpy().reshape(-1).astype(np.float64)

    def normalization(self) -> dict[str, Any]:
        """The sidecar ``normalization`` block."""
        if self.config.arch.normalization == "baked":
            return {"baked": True}
        return dict(self._sidecar_norm()["normalization"])

"""Build the tiny FR model the runtime benchmark runs on, until the zoo ships its own.

A 6-16-8-1 MLP over VMAF's canonical-6 features with the standardisation baked into the graph
(Sub/Div), fitted with torch for a few seconds to libvmaf's own vmaf_v0.6.1 scores on a handful of
generated x264 encodes, exported with ``torch.onnx.export`` (opset 17) plus its sidecar. It is a
``smoke`` model: the point is realistic size, graph and inputs for speed figures, not quality
(the fit is in-sample; its PLCC is printed for information only).

    python benchmarks/make_bench_model.py --out bench_model
    vmaf-tiny bench -m bench_model/bench_fr_mlp.onnx --backend cpu
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from vmaf_tiny import CANONICAL6, extract_features, resolve_ffmpeg
from vmaf_tiny.guard import guard_model

MODEL_ID = "bench_fr_mlp"
SOURCES = (
    "testsrc2=size=320x180:rate=25",
    "mandelbrot=size=320x180:rate=25",
    "life=size=320x180:rate=25:seed=7:mold=10:ratio=0.2",
    "cellauto=size=320x180:rate=25:rule=110:seed=3",
)
CRFS = (16, 26, 34, 42, 50)


def collect(work: Path, frames: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Canonical-6 features and vmaf_v0.6.1 per frame over sources x CRFs (x264, 1 thread)."""
    ff = resolve_ffmpeg()
    xs, ys = [], []
    for i, src in enumerate(SOURCES):
        ref = work / f"ref{i}.y4m"
        ff.run(
            [
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                src,
                "-frames:v",
                str(frames),
                "-pix_fmt",
                "yuv420p",
                str(ref),
            ],
            what="make source",
        )
        for crf in CRFS:
            dis = work / f"dis{i}_{crf}.mp4"
            ff.run(
                [
                    "-loglevel",
                    "error",
                    "-i",
                    str(ref),
                    "-c:v",
                    "libx264",
                    "-preset",
                    "veryfast",
                    "-crf",
                    str(crf),
                    "-threads",
                    "1",
                    str(dis),
                ],
                what="encode",
            )
            feats = extract_features(ref, dis, ffmpeg=ff)
            xs.append(feats.matrix(CANONICAL6))
            ys.append(feats.vmaf.astype(np.float32))
    return np.concatenate(xs), np.concatenate(ys)


def fit_and_export(x: np.ndarray, y: np.ndarray, out: Path, seed: int = 0) -> Path:
    import torch

    torch.manual_seed(seed)
    mean = torch.tensor(x.mean(axis=0), dtype=torch.float32)
    std = torch.tensor(x.std(axis=0) + 1e-6, dtype=torch.float32)

    class Mlp(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", mean)
            self.register_buffer("std", std)
            self.net = torch.nn.Sequential(
                torch.nn.Linear(6, 16),
                torch.nn.ReLU(),
                torch.nn.Linear(16, 8),
                torch.nn.ReLU(),
                torch.nn.Linear(8, 1),
            )

        def forward(self, features: torch.Tensor) -> torch.Tensor:
            return self.net((features - self.mean) / self.std)

    model = Mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    xt, yt = torch.tensor(x), torch.tensor(y)[:, None]
    for _ in range(1500):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(xt), yt)
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        pred = model(xt)[:, 0].numpy()
    plcc = float(np.corrcoef(pred, y)[0, 1])
    rmse = float(np.sqrt(np.mean((pred - y) ** 2)))
    print(f"fit on {len(y)} frames (in-sample, no quality claim): PLCC {plcc:.4f}, RMSE {rmse:.2f}")
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{MODEL_ID}.onnx"
    torch.onnx.export(
        model,
        (xt[:4],),
        str(path),
        input_names=["features"],
        output_names=["score"],
        dynamic_axes={"features": {0: "N"}, "score": {0: "N"}},
        opset_version=17,
        dynamo=False,
    )
    sidecar = {
        "schema_version": 1,
        "id": MODEL_ID,
        "kind": "fr",
        "class": "C1",
        "onnx": path.name,
        "opset": 17,
        "smoke": True,
        "description": "Benchmark-only 6-16-8-1 MLP fitted in-sample to vmaf_v0.6.1 on generated "
        "x264 encodes (benchmarks/make_bench_model.py).",
        "inputs": [{"name": "features", "dtype": "float32", "shape": ["N", 6], "role": "features"}],
        "outputs": [{"name": "score", "dtype": "float32", "shape": ["N", 1], "role": "score"}],
        "feature_order": list(CANONICAL6),
        "normalization": {"baked": True},
        "output": {"target": "vmaf", "range": [0.0, 100.0], "clamp": True},
        "metadata": {"fit_frames": len(y), "fit_plcc_in_sample": round(plcc, 4)},
    }
    (out / f"{MODEL_ID}.json").write_text(json.dumps(sidecar, indent=2) + "\n")
    g = guard_model(path)  # the exported model must pass the runtime's own checks
    print(f"wrote {path} ({g.total_bytes} bytes, sha256 {g.sha256})")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="Directory for the .onnx + sidecar.")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="vmaf-tiny-benchmodel-") as tmp:
        x, y = collect(Path(tmp))
    fit_and_export(x, y, args.out, args.seed)


if __name__ == "__main__":
    main()

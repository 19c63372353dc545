"""MNIST-1D (Greydanus 2020, "Scaling down deep learning"), generated here from its recipe.

Ten hand-made 1-D "digits" of 12 points each are turned into 40-point signals that a
linear model mostly fails on (about 32% accuracy) and an MLP gets about 68% right: each
sample's template is padded with zeros, stretched back to 72 points (so a random amount
of padding is a random dilation), scaled, shifted round the circle, given smooth
(correlated) noise where the padding was and white noise everywhere, sheared by a
random linear trend and resampled to 40 points. The dataset is then standardised as a
whole. The templates and the parameters are the paper's (its reference code's
`get_templates` and `get_dataset_args`); the code is ours, numpy only, and the random
numbers come from Python's `random`, so a seed gives the same samples on any machine.
"""

from __future__ import annotations

import math
import random

import numpy as np

__all__ = ["FEATURES", "TEMPLATES", "generate", "templates"]

# The ten digit templates, 12 points each, from the paper's reference code.
TEMPLATES = (
    (5, 6, 6.5, 6.75, 7, 7, 7, 7, 6.75, 6.5, 6, 5),
    (5, 3, 3, 3.4, 3.8, 4.2, 4.6, 5, 5.4, 5.8, 5, 5),
    (5, 6, 6.5, 6.5, 6, 5.25, 4.75, 4, 3.5, 3.5, 4, 5),
    (5, 6, 6.5, 6.5, 6, 5, 5, 6, 6.5, 6.5, 6, 5),
    (5, 4.4, 3.8, 3.2, 2.6, 2.6, 5, 5, 5, 5, 5, 5),
    (5, 3, 3, 3, 3, 5, 6, 6.5, 6.5, 6, 4.5, 5),
    (5, 4, 3.5, 3.25, 3, 3, 3, 3, 3.25, 3.5, 4, 5),
    (5, 7, 7, 6.6, 6.2, 5.8, 5.4, 5, 4.6, 4.2, 5, 5),
    (5, 4, 3.5, 3.5, 4, 5, 5, 4, 3.5, 3.5, 4, 5),
    (5, 4, 3.5, 3.5, 4, 5, 5, 5, 5, 4.7, 4.3, 5),
)
# The paper's dataset parameters.
PADDING = (36, 60)  # zeros appended to a template: a random count in this range
LENGTH = 12 + PADDING[1]  # every padded template is stretched to 72 points
SCALE = 0.4  # amplitude times 1 + SCALE * U(-0.5, 0.5)
MAX_SHIFT = 48  # circular shift by 0..47 points
CORR_NOISE = 0.25  # smooth noise (white noise blurred by a Gaussian of sigma 2) in the gaps
IID_NOISE = 0.02  # white noise everywhere
SHEAR = 0.75  # a linear trend of slope SHEAR * U(-0.5, 0.5) over the signal
FEATURES = 40  # the final number of points
EPS = 1e-8  # added to the template so that only the padding is exactly 0


def templates() -> np.ndarray:
    """The ten templates whitened, starting at 0 and divided by 6, as in the paper."""
    x = np.array(TEMPLATES, dtype=np.float64)
    x = x - x.mean(axis=1, keepdims=True)
    x = x / x.std(axis=1, keepdims=True)
    x = x - x[:, :1]  # each signal starts (and ends) at 0
    return x / 6.0


def _resample(x: np.ndarray, n: int, ends: np.ndarray | None = None) -> np.ndarray:
    """Rows x sampled at n evenly spaced points by linear interpolation. ends: each row's
    last index (default: the last column), so a row can be a shorter signal than x."""
    last = np.full(len(x), x.shape[1] - 1.0) if ends is None else ends.astype(np.float64)
    at = np.linspace(0.0, 1.0, n)[None, :] * last[:, None]
    i0 = np.minimum(at.astype(np.intp), x.shape[1] - 2)
    frac = at - i0
    rows = np.arange(len(x))[:, None]
    return x[rows, i0] * (1.0 - frac) + x[rows, i0 + 1] * frac


def _blur(x: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    """Each row blurred by a Gaussian of sigma points, its kernel cut at 4 sigma, mirrored
    at the ends (as scipy.ndimage.gaussian_filter does by default), tap by tap."""
    radius = int(4.0 * sigma + 0.5)
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    k /= k.sum()
    padded = np.pad(x, ((0, 0), (radius, radius)), mode="symmetric")
    out = np.zeros_like(x)
    width = x.shape[1]
    for i, w in enumerate(k):
        out = out + w * padded[:, i : i + width]
    return out


def generate(n: int, rng: random.Random, noise: float = 1.0) -> tuple[list[list[float]], list[int]]:
    """n samples (as equal a number per digit as n allows, in digit order) and their labels;
    `noise` scales both noises (1 = the paper's). The whole set is standardised."""
    per = [n // 10 + (1 if d < n % 10 else 0) for d in range(10)]
    labels = np.array([d for d in range(10) for _ in range(per[d])], dtype=np.intp)
    # numpy's PCG64 stream seeded from the generator's own random.Random
    gen = np.random.Generator(np.random.PCG64(rng.getrandbits(128)))
    u = gen.random((n, 4))
    # pad with 36..60 zeros, then stretch the 12 + pad points back to 72: a random dilation
    signal = np.zeros((n, LENGTH + 1))
    signal[:, :12] = templates()[labels] + EPS
    pad = PADDING[0] + (u[:, 0] * (PADDING[1] - PADDING[0] + 1)).astype(np.intp)
    x = _resample(signal, LENGTH, ends=11 + pad)
    x = x * (1.0 + SCALE * (u[:, 1:2] - 0.5))  # scale
    shift = (u[:, 2] * MAX_SHIFT).astype(np.intp)  # circular shift by 0..47 points
    x = x[np.arange(n)[:, None], (np.arange(LENGTH)[None, :] - shift[:, None]) % LENGTH]
    smooth = _blur(gen.standard_normal((n, LENGTH)) * (CORR_NOISE * noise))
    x = np.where(x != 0.0, x, smooth)  # the gaps the padding left get smooth noise
    x = x + gen.standard_normal((n, LENGTH)) * (IID_NOISE * noise)  # white noise everywhere
    x = x - SHEAR * (u[:, 3:4] - 0.5) * np.linspace(-0.5, 0.5, LENGTH)[None, :]  # shear
    xs = _resample(x, FEATURES)
    flat = xs.ravel().tolist()
    mean = math.fsum(flat) / len(flat)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in flat) / len(flat))
    return ((xs - mean) / std).tolist(), labels.tolist()

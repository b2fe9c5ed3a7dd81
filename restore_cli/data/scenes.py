"""Project-made synthetic photos: one renderer for the bench's synthetic set and the shipped examples.

A street-like scene with what a deblurrer and a colorizer are judged on: smooth gradients (sky), hard edges
of many orientations (buildings, windows, discs, a slanted line), fine periodic detail (a resolution chart),
text, and sensor-like grain. Layout and colours are drawn from ``seed``; every size is proportional to the
image, so any ``height x width`` works. Nothing of unknown licence is involved.
"""

from __future__ import annotations

import cv2
import numpy as np


def render_scene(height: int = 384, width: int = 512, seed: int = 0) -> np.ndarray:
    """A deterministic colour scene, uint8 ``height x width x 3`` RGB (same seed and size: same pixels)."""
    rng = np.random.default_rng(seed)
    sx, sy = width / 512.0, height / 384.0
    s = min(sx, sy)

    def px(x: float, y: float) -> tuple[int, int]:
        return int(round(x * sx)), int(round(y * sy))

    # Sky gradient above the horizon, warm grey gravel (fine noise texture) below, a sun with a soft halo.
    horizon = int(height * rng.uniform(0.58, 0.68))
    t = np.linspace(0.0, 1.0, horizon, dtype=np.float32)[:, None, None]
    top = np.array([40, 90, 170], np.float32) + rng.uniform(-25, 25, 3).astype(np.float32)
    bottom = np.array([190, 215, 235], np.float32) + rng.uniform(-15, 15, 3).astype(np.float32)
    img = np.zeros((height, width, 3), np.float32)
    img[:horizon] = (1 - t) * top + t * bottom
    ground = np.array([128, 118, 105], np.float32) + rng.uniform(-20, 20, 3).astype(np.float32)
    img[horizon:] = ground + rng.normal(0, 18, (height - horizon, width, 1)).astype(np.float32)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    sun_x, sun_y = rng.uniform(0.6, 0.9) * width, rng.uniform(0.1, 0.2) * height
    halo = np.exp(-((xx - sun_x) ** 2 + (yy - sun_y) ** 2) / (2 * (35.0 * s) ** 2))[..., None]
    img = img * (1 - halo) + np.array([255, 240, 200], np.float32) * halo
    img = np.ascontiguousarray(np.clip(img, 0, 255).astype(np.uint8))

    # Buildings: flat colours with a grid of windows (sharp edges everywhere).
    x = 10.0 + rng.uniform(0, 20)
    while x < 330:
        w, top_y = rng.uniform(70, 130), rng.uniform(60, 150)
        colour = tuple(int(c) for c in rng.integers(50, 220, 3))
        cv2.rectangle(img, px(x, top_y), (int(round((x + w) * sx)), horizon), colour, -1)
        for wy in np.arange(top_y + 10, horizon / sy - 20, 22):
            for wx in np.arange(x + 8, x + w - 14, 18):
                lit = rng.uniform() < 0.25
                cv2.rectangle(
                    img, px(wx, wy), px(wx + 9, wy + 12), (250, 220, 120) if lit else (35, 40, 55), -1
                )
        x += w + rng.uniform(2, 15)
    # A resolution chart: black/white stripes of decreasing period, and a checkerboard.
    x0, y0 = 360, 150
    for i, period in enumerate((8, 6, 4, 3, 2)):
        for k in range(0, 60, period * 2):
            cv2.rectangle(
                img, px(x0 + k, y0 + i * 12), px(x0 + k + period - 1, y0 + i * 12 + 9), (15, 15, 15), -1
            )
            cv2.rectangle(
                img,
                px(x0 + k + period, y0 + i * 12),
                px(x0 + k + 2 * period - 1, y0 + i * 12 + 9),
                (245,) * 3,
                -1,
            )
    for cy in range(6):
        for cx in range(8):
            colour = (20, 20, 20) if (cx + cy) % 2 else (235, 235, 235)
            cv2.rectangle(img, px(430 + cx * 9, 150 + cy * 9), px(438 + cx * 9, 158 + cy * 9), colour, -1)
    # Coloured discs and a slanted line (curved and slanted edges).
    for _ in range(3):
        colour = tuple(int(c) for c in rng.integers(20, 250, 3))
        centre = px(rng.uniform(30, 230), rng.uniform(290, 340))
        cv2.circle(img, centre, max(2, int(rng.uniform(12, 30) * s)), colour, -1, lineType=cv2.LINE_AA)
    cv2.line(
        img, px(250, 370), px(500, rng.uniform(230, 280)), (250, 250, 250), max(1, round(3 * s)), cv2.LINE_AA
    )
    # Text: a sign and captions (the most telling test for a deblurrer).
    sign_colour = tuple(int(c) for c in rng.integers(120, 220, 3))
    cv2.rectangle(img, px(150, 20), px(350, 62), (250, 250, 245), -1)
    cv2.rectangle(img, px(150, 20), px(350, 62), (30, 30, 30), max(1, round(2 * s)))
    cv2.putText(
        img,
        "RESTORE",
        px(165, 53),
        cv2.FONT_HERSHEY_DUPLEX,
        1.1 * s,
        sign_colour[::-1],
        max(1, round(2 * s)),
        cv2.LINE_AA,
    )
    cv2.putText(
        img,
        f"Main St. {int(rng.integers(1890, 1960))}",
        px(360, 235),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.55 * s,
        (20, 20, 20),
        1,
        cv2.LINE_AA,
    )
    cv2.putText(
        img, "sharp edges, fine text", px(20, 370), cv2.FONT_HERSHEY_PLAIN, 1.0 * s, (250, 250, 250), 1
    )
    return img

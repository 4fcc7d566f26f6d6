"""The pictures of seqkit's diagnostics (matplotlib, drawn without pyplot): gradient norms, hidden states."""

from __future__ import annotations

import textwrap

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from seqkit.diagnostics.trace import DIRECTIONS


def _figure(width: float, height: float):
    """A matplotlib Figure drawn by Agg, without pyplot (so no global backend or figure list is touched)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


STYLES = ("-", "--")  # alternate curves (at initialisation, after training) solid and dashed


def plot_gradient_norms(
    curves: dict[str, np.ndarray],
    path: str | Path,
    title: str = "gradient reaching h_t from the loss",
    losses: dict[str, Sequence[float]] | None = None,
) -> Path:
    """Draw |dL/dh_t| against t on a log scale, one line per label, into a PNG.

    Args:
        curves: `{label: norms}`, e.g. from `gradients_at_init`, or
            `{"step 0": GradientNormLogger.curves[0][1], ...}`; norms of 0 are left out
            (a log scale has no 0).
        path: the image file (its suffix picks the format: .png, .svg, .pdf).
        title: the panel's title.
        losses: optional `{label: loss per step}` (e.g. `exploding_demo`'s), drawn as a
            second panel on a log scale; where a run turns inf or NaN a dotted line marks
            the step.

    Returns:
        `path` as a Path.

    Raises:
        SeqkitError: matplotlib is not installed.
    """
    figure = _figure(11.5 if losses else 6.5, 4.2)
    from matplotlib.ticker import MaxNLocator

    axes = figure.subplots(1, 2 if losses else 1, squeeze=False)[0]
    ax = axes[0]
    for k, (label, norms) in enumerate(curves.items()):
        norms = np.asarray(norms, dtype=float)
        # A style of its own for each curve: one that lies on another (a gradient training did not change) shows.
        ax.plot(np.arange(len(norms)), np.where(norms > 0, norms, np.nan), label=label, linestyle=STYLES[k % len(STYLES)],
                linewidth=2.2 - 0.4 * (k % len(STYLES)), color=f"C{k // 2 % 10}" if len(curves) > 2 else f"C{k}")
    ax.set_yscale("log")
    ax.set(xlabel="timestep t", ylabel="|dL/dh_t|", title=title)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    ax.legend()
    if losses:
        ax = axes[1]
        for label, values in losses.items():
            values = np.asarray(values, dtype=float)
            finite = np.isfinite(values)
            (line,) = ax.plot(np.where(finite, values, np.nan), label=label)
            if not finite.all():
                step = int(np.argmin(finite))
                ax.axvline(step, color=line.get_color(), linestyle=":", label=f"{label}: inf/NaN at step {step}")
        ax.set_yscale("log")
        ax.set(xlabel="SGD step", ylabel="training loss", title="training loss")
        ax.grid(True, alpha=0.3)
        ax.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return Path(path)


def plot_hidden_states(
    frame_or_array: pd.DataFrame | np.ndarray,
    path: str | Path,
    tokens: Sequence[str] | None = None,
    title: str = "hidden state h_t",
    sample: int = 0,
    layer: int | None = None,
    xlabel: str | None = None,
) -> Path:
    """Draw h_t as a heatmap, time across and units down, into a PNG.

    Args:
        frame_or_array: `trace()`'s table (one sample and layer is drawn; with two
            directions their units are stacked, forward first) or an array `(T, H)`.
        path: the image file.
        tokens: labels for the T timesteps (the words of a sentence), shown under the columns.
        xlabel: what the columns are (default "token" with `tokens`, else "timestep t").
        title: the picture's title.
        sample, layer: which rows of a `trace()` table to draw (layer: the last by default).

    Returns:
        `path` as a Path.

    Raises:
        ValueError: an array that is not 2-D, a sample or layer the table lacks, or as many
            tokens as timesteps.
        SeqkitError: matplotlib is not installed.
    """
    if isinstance(frame_or_array, pd.DataFrame):
        table = frame_or_array
        layer = int(table.layer.max()) if layer is None else layer
        rows = table[(table["sample"] == sample) & (table.layer == layer)]
        if rows.empty:
            raise ValueError(f"the table has no rows for sample {sample}, layer {layer}")
        per_direction = [np.stack(rows[rows.direction == d].sort_values("t").h.tolist())
                         for d in DIRECTIONS if (rows.direction == d).any()]
        states = np.concatenate(per_direction, axis=1)                    # (T, D*H)
        boundary = per_direction[0].shape[1] if len(per_direction) == 2 else None
    else:
        boundary = None
        states = np.asarray(frame_or_array, dtype=float)
        if states.ndim != 2:
            raise ValueError(f"expected an array (T, H), got shape {states.shape}")
    steps, units = states.shape
    if tokens is not None and len(tokens) != steps:
        raise ValueError(f"{len(tokens)} tokens for {steps} timesteps")
    figure = _figure(min(max(4 + 0.3 * steps, 6), 16), min(max(1.5 + 0.2 * units, 3), 10))
    ax = figure.subplots()
    from matplotlib.ticker import MaxNLocator

    scale = max(1.0, float(np.abs(states).max()))  # tanh-bounded states share one colour scale, -1 .. 1
    image = ax.imshow(states.T, aspect="auto", cmap="RdBu_r", vmin=-scale, vmax=scale, interpolation="nearest")
    title = textwrap.fill(title, int(figure.get_figwidth() * 8))  # a long title on lines of its own, not cut off
    ax.set(xlabel=xlabel or ("token" if tokens is not None else "timestep t"), title=title,
           ylabel="unit" if boundary is None else "unit (forward, then reverse)")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if boundary is not None:  # a line between the two directions' units
        ax.axhline(boundary - 0.5, color="black", linewidth=1.5)
    if tokens is not None:
        ax.set_xticks(range(steps), labels=list(tokens), rotation=90 if max(map(len, tokens), default=0) > 4 else 0)
    figure.colorbar(image, ax=ax, label="h_t")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return Path(path)

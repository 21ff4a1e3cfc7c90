"""Flax modules for `FlaxClassifier` / `FlaxRegressor`: a plain MLP (the default module), and a
small CNN for scikit-learn's 8x8 digits that masks its own filters and kernel size.

Any `flax.linen.Module` works with these estimators (see `vgrid.flax_estimators`); these two
declare an `n_outputs: int` field, which the estimator sets to the target's width.

Examples
--------
>>> import jax, jax.numpy as jnp
>>> cnn = DigitsCNN(n_outputs=10, features=4, kernel_size=3)
>>> outputs, params = jax.eval_shape(cnn.init_with_output, jax.random.key(0), jnp.zeros((2, 64)))
>>> outputs.shape, params["params"]["conv_kernel"].shape     # 16 channels, 5 x 5 taps, masked
((2, 10), (5, 5, 1, 16))
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

__all__ = ["MLP", "DigitsCNN"]


class MLP(nn.Module):
    """Dense layers of widths `hidden` with ReLU, then a linear output layer.

    The default module of `vgrid.FlaxClassifier` and `vgrid.FlaxRegressor`. In a search,
    ``module__hidden`` widths are padded: one program for a grid of widths of one depth.

    Attributes
    ----------
    n_outputs : int, default=1
        The output width (set by the estimator).
    hidden : tuple of int, default=(32,)
        The hidden layers' widths.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> mlp = MLP(n_outputs=3, hidden=(16, 8))
    >>> params = jax.eval_shape(mlp.init, jax.random.key(0), jnp.zeros((1, 4)))   # shapes only
    >>> [p["kernel"].shape for p in params["params"].values()]
    [(4, 16), (16, 8), (8, 3)]
    """

    n_outputs: int = 1
    hidden: tuple = (32,)

    @nn.compact
    def __call__(self, x):
        for width in self.hidden:
            x = nn.relu(nn.Dense(width)(x))
        return nn.Dense(self.n_outputs)(x)


class DigitsCNN(nn.Module):
    """Conv(features, kernel_size) -> ReLU -> 2x2 average pool -> Dense, on 8x8 images.

    The convolution always has `max_features` channels and `max_kernel` x `max_kernel` taps;
    `features` and `kernel_size` switch the rest off with masks, so both are traced: one
    program for a grid over them. (A plain `nn.Conv(features, (k, k))` module is padded by
    vgrid instead, with the same result.)

    Attributes
    ----------
    n_outputs : int, default=10
        The output width (set by the estimator).
    features : int, default=8
        Convolution channels in use, at most `max_features`.
    kernel_size : int, default=3
        Odd kernel width in use, at most `max_kernel`.
    max_features, max_kernel : int, default=16, 5
        The allocated channels and kernel width.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> cnn = DigitsCNN(features=4, kernel_size=1)         # a 1 x 1 convolution, 4 channels
    >>> jax.eval_shape(cnn.init_with_output, jax.random.key(0), jnp.zeros((2, 64)))[0].shape
    (2, 10)
    """

    n_outputs: int = 10
    features: int = 8
    kernel_size: int = 3
    max_features: int = 16
    max_kernel: int = 5

    @nn.compact
    def __call__(self, x):
        x = x.reshape((x.shape[0], 8, 8, 1))
        kernel = self.param(
            "conv_kernel",
            nn.initializers.lecun_normal(),
            (self.max_kernel, self.max_kernel, 1, self.max_features),
        )
        bias = self.param("conv_bias", nn.initializers.zeros, (self.max_features,))
        offset = jnp.abs(jnp.arange(self.max_kernel) - self.max_kernel // 2)
        taps = offset <= (self.kernel_size - 1) // 2
        channels = jnp.arange(self.max_features) < self.features
        mask = taps[:, None, None, None] & taps[None, :, None, None] & channels[None, None, None, :]
        x = jax.lax.conv_general_dilated(
            x, kernel * mask, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        x = nn.relu(x + bias[None, None, None, :]) * channels[None, None, None, :]
        x = nn.avg_pool(x, (2, 2), strides=(2, 2))
        return nn.Dense(self.n_outputs)(x.reshape((x.shape[0], -1)))

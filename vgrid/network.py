"""The Flax network that vgrid trains, and scikit-learn's activation and output formulas.

One `MaskedMLP` describes every multi-layer perceptron of a group: hidden layers are padded to
the widest candidate and a per-model unit mask switches the padding off, so a padded unit is
exactly zero in the forward pass and receives exactly zero gradient. Its dense layers compute the
kernel gradient as a plain matrix product on the CPU (`_dense`), where XLA's product contracting
both operands' batch axis is several times slower.

Example:
    >>> import jax.numpy as jnp
    >>> net = MaskedMLP(hidden_widths=(4,), n_outputs=1, activation="relu")
    >>> params = net.init_zeros(n_features=3, dtype=jnp.float32)
    >>> net.apply({"params": params}, jnp.ones((2, 3)), (jnp.ones(4),)).shape
    (2, 1)
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

__all__ = ["ACTIVATION_CODES", "MaskedMLP", "hidden_activation", "output_activation"]


@jax.custom_jvp
def _logistic(x):
    return jax.nn.sigmoid(x)


@_logistic.defjvp
def _logistic_jvp(primals, tangents):
    # scikit-learn's inplace_logistic_derivative: delta *= Z; delta *= 1 - Z
    out = _logistic(primals[0])
    return out, tangents[0] * out * (1 - out)


@jax.custom_jvp
def _tanh(x):
    return jnp.tanh(x)


@_tanh.defjvp
def _tanh_jvp(primals, tangents):
    # scikit-learn's inplace_tanh_derivative: delta *= 1 - Z**2
    out = jnp.tanh(primals[0])
    return out, tangents[0] * (1 - out**2)


def _identity(x):
    return x


_HIDDEN: dict[str, Callable] = {
    "identity": _identity,
    "logistic": _logistic,
    "tanh": _tanh,
    "relu": jax.nn.relu,
}
#: Codes of the hidden activations, for a program whose models use different ones.
ACTIVATION_CODES = {name: code for code, name in enumerate(_HIDDEN)}


def hidden_activation(name: str, code=None):
    """The hidden-layer activation `name` with scikit-learn's derivative. For name "mixed" the
    activation is chosen per model by its traced `code` (under vmap every branch is computed
    and one selected, so each model gets exactly its own activation and derivative)."""
    if name != "mixed":
        return _HIDDEN[name]
    branches = list(_HIDDEN.values())
    return lambda z: jax.lax.switch(code, branches, z)


def _softmax(z):
    # scikit-learn's inplace_softmax, formula for formula
    e = jnp.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


_OUTPUT = {"identity": _identity, "logistic": jax.nn.sigmoid, "softmax": _softmax, "exp": jnp.exp}


def output_activation(name: str):
    """scikit-learn's output activation `name` ('identity', 'logistic', 'softmax', 'exp')."""
    return _OUTPUT[name]


@jax.custom_vjp
def _dense(x, kernel, bias):
    return x @ kernel + bias[None, :]


def _dense_fwd(x, kernel, bias):
    return _dense(x, kernel, bias), (x, kernel)


def _dense_bwd(res, g):
    x, kernel = res
    grad_x = g @ kernel.T
    if jax.default_backend() != "cpu":
        return grad_x, x.T @ g, g.sum(axis=0)
    # The kernel's gradient x^T g contracts both operands' leading (batch) axis, which
    # XLA:CPU runs as a slow generic product (3-6x slower than the forward one for skinny
    # shapes); transposing the smaller operand first, with barriers that keep XLA from
    # folding the transposes back into the product, makes it a plain, fast one.
    if x.shape[-1] <= g.shape[-1]:
        # x^T with a row of ones under it: one product gives the kernel's gradient and the
        # bias's (the column sums of g), instead of a product and a separate reduction.
        x_t = jnp.concatenate([x.T, jnp.ones((1, x.shape[0]), x.dtype)])
        both = jax.lax.optimization_barrier(x_t) @ g
        return grad_x, both[:-1], both[-1]
    grad_kernel = jax.lax.optimization_barrier(jax.lax.optimization_barrier(g.T) @ x).T
    return grad_x, grad_kernel, g.sum(axis=0)


_dense.defvjp(_dense_fwd, _dense_bwd)


class _Dense(nn.Module):
    """`nn.Dense` with scikit-learn's parameter names and a faster kernel gradient on CPU."""

    features: int

    @nn.compact
    def __call__(self, x):
        kernel = self.param("kernel", nn.initializers.zeros, (x.shape[-1], self.features), x.dtype)
        bias = self.param("bias", nn.initializers.zeros, (self.features,), x.dtype)
        return _dense(x, kernel, bias)


class MaskedMLP(nn.Module):
    """A multi-layer perceptron whose hidden units can be switched off per model.

    Attributes:
        hidden_widths: padded width of each hidden layer.
        n_outputs: width of the output layer (pre-activation logits are returned).
        activation: scikit-learn's hidden activation name, or "mixed": then `activation_code`
            (see `ACTIVATION_CODES`) chooses it per model.
    """

    hidden_widths: tuple[int, ...]
    n_outputs: int
    activation: str

    @nn.compact
    def __call__(self, x, unit_masks, activation_code=None, depth=None):
        """Logits of x. With `depth`, hidden layers from `depth` on are skipped (the previous
        layer's output passes through unchanged, so they need equal widths): a shallower model
        in a deeper program, with exactly its own numbers."""
        act = hidden_activation(self.activation, activation_code)
        for i, width in enumerate(self.hidden_widths):
            y = _Dense(width, name=f"layer_{i}")(x)
            y = act(y) * unit_masks[i][None, :]
            x = y if depth is None or i == 0 else jnp.where(i < depth, y, x)
        return _Dense(self.n_outputs, name=f"layer_{len(self.hidden_widths)}")(x)

    def layer_shapes(self, n_features: int) -> list[tuple[int, int]]:
        """(fan_in, fan_out) of every Dense layer, padded."""
        units = [n_features, *self.hidden_widths, self.n_outputs]
        return list(zip(units[:-1], units[1:]))

    def init_zeros(self, n_features: int, dtype) -> dict:
        """A parameter tree of zeros with this network's padded shapes."""
        return {
            f"layer_{i}": {"kernel": jnp.zeros(shape, dtype), "bias": jnp.zeros(shape[1], dtype)}
            for i, shape in enumerate(self.layer_shapes(n_features))
        }

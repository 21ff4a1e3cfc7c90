"""A counter-based random number generator built from a 32-bit integer hash, for the Flax
programs: cheap to compile where XLA:CPU spends seconds on threefry's twenty rounds.

`HASH_PRNG` is a JAX PRNG implementation (`jax.extend.random.define_prng_impl`): keys are two
uint32 words; `fold_in`, `split` and `random_bits` mix a key with a counter through murmur3's
32-bit finalizer, applied twice with different keys, so every output word depends on both key
words and on the counter alone. It is deterministic on every backend and under `vmap`, and a
value depends only on its key and its position, never on the shape it was drawn in with. It
is not a cryptographic generator: it is meant for initial weights and shuffles, where its
avalanche properties are ample (see `tests/test_flax_engine.py` for its statistical checks).

Example:
    >>> import jax
    >>> key = jax.random.key(0, impl=HASH_PRNG)
    >>> u = jax.random.uniform(key, (10000,))
    >>> bool(abs(float(u.mean()) - 0.5) < 0.01)
    True
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.extend.random import define_prng_impl

__all__ = ["HASH_PRNG"]

_GOLDEN = np.uint32(0x9E3779B9)


def _fmix(h):
    """murmur3's 32-bit finalizer: every input bit flips each output bit with probability 1/2."""
    h = h ^ (h >> 16)
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> 13)
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> 16)


#: One constant per use of the mix, so that a child key (`fold_in`, `split`) never shares a
#: word with its parent's random bits at the same counter.
_FOLD_IN, _SPLIT, _BITS = np.uint32(0x6A09E667), np.uint32(0xBB67AE85), np.uint32(0x3C6EF372)


def _mix(key, counter, domain):
    """Two words from a key (2,), counters (any shape, uint32) and a domain constant."""
    a = _fmix(key[0] ^ _fmix(counter * _GOLDEN + (key[1] ^ domain)))
    b = _fmix(key[1] ^ _fmix(counter ^ a) + domain)
    return a, b


def _seed(seed):
    seed = jnp.asarray(seed)
    low = lax.convert_element_type(seed, jnp.uint32)
    high = (
        lax.convert_element_type(seed >> 32, jnp.uint32)
        if seed.dtype.itemsize == 8
        else jnp.zeros((), jnp.uint32)
    )
    return jnp.stack([_fmix(low ^ _GOLDEN), _fmix(high + _GOLDEN)])


def _fold_in(key, data):
    a, b = _mix(key, lax.convert_element_type(data, jnp.uint32), _FOLD_IN)
    return jnp.stack([a, b])


def _split(key, shape):
    a, b = _mix(key, lax.iota(jnp.uint32, int(np.prod(shape))), _SPLIT)
    return jnp.stack([a, b], axis=-1).reshape(*shape, 2)


def _random_bits(key, bit_width, shape):
    n = int(np.prod(shape))
    a, b = _mix(key, lax.iota(jnp.uint32, n), _BITS)
    if bit_width == 64:
        bits = (lax.convert_element_type(a, jnp.uint64) << 32) | lax.convert_element_type(
            b, jnp.uint64
        )
        return bits.reshape(shape)
    dtype = {8: jnp.uint8, 16: jnp.uint16, 32: jnp.uint32}[bit_width]
    return lax.convert_element_type(a >> (32 - bit_width), dtype).reshape(shape)


HASH_PRNG = define_prng_impl(
    key_shape=(2,),
    seed=_seed,
    split=_split,
    random_bits=_random_bits,
    fold_in=_fold_in,
    name="vgrid_hash",
    tag="vh",
)

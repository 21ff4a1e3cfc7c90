"""Checkpoints: a killed search resumes where it stopped, with exactly the same scores.

A checkpoint folder holds `manifest.json` (the fingerprint of the search: estimator, search
parameters and data) and one `chunk-<key>.npz` per finished chunk of models (their final
training states, keyed by a hash of everything that determines them). Files are written to a
temporary name and renamed, so a kill leaves either a whole file or none; a truncated or corrupt
file is detected (zip checksums, key and shape checks), reported and recomputed. Everything is
plain arrays and JSON read with `allow_pickle=False`: opening a checkpoint runs no code.

Example:
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> Checkpoint(folder, "abc").fingerprint
    'abc'
    >>> Checkpoint(folder, "other")
    Traceback (most recent call last):
    ...
    ValueError: checkpoint folder ... holds another search (fingerprint abc, this search other): ...
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
import zipfile

import jax
import numpy as np

__all__ = ["Checkpoint", "fingerprint_of"]


def fingerprint_of(*parts) -> str:
    """A hex digest of arrays (their bytes, dtype and shape) and anything else (its repr)."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray) or hasattr(part, "__array__") and not isinstance(
                part, (str, bytes)):
            array = np.ascontiguousarray(np.asarray(part))
            if array.dtype == object:
                digest.update(repr(array.tolist()).encode())
            else:
                digest.update(f"{array.dtype.str}{array.shape}".encode())
                digest.update(array.tobytes())
        else:
            digest.update(repr(part).encode())
        digest.update(b"|")
    return digest.hexdigest()


def _write_atomically(path: str, write) -> None:
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)


class Checkpoint:
    """A folder of finished chunks for one search (see the module docstring)."""

    def __init__(self, folder: str, fingerprint: str):
        self.folder, self.fingerprint = folder, fingerprint
        self.loaded = self.saved = 0
        os.makedirs(folder, exist_ok=True)
        manifest = os.path.join(folder, "manifest.json")
        if os.path.exists(manifest):
            with open(manifest) as f:
                found = json.load(f).get("fingerprint")
            if found != fingerprint:
                raise ValueError(
                    f"checkpoint folder {folder!r} holds another search (fingerprint {found}, "
                    f"this search {fingerprint}): the estimator, the search parameters or the "
                    "data differ. Use another folder, or delete this one to start afresh.")
        else:
            _write_atomically(manifest, lambda f: f.write(json.dumps(
                {"format": "vgrid-checkpoint-1", "fingerprint": fingerprint}).encode()))

    def _path(self, key: str) -> str:
        return os.path.join(self.folder, f"chunk-{key[:40]}.npz")

    def load(self, key: str, template):
        """The states saved under `key`, shaped like `template` (a pytree), or None."""
        path = self._path(key)
        if not os.path.exists(path):
            return None
        leaves, treedef = jax.tree.flatten(template)
        try:
            with np.load(path, allow_pickle=False) as stored:
                if str(stored["key"]) != key:
                    raise ValueError("key mismatch")
                arrays = [stored[f"leaf_{i}"] for i in range(len(leaves))]
            for array, leaf in zip(arrays, leaves):
                if array.shape[1:] != np.shape(leaf)[1:] or array.dtype != np.asarray(leaf).dtype:
                    raise ValueError("shape mismatch")
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            warnings.warn(f"checkpoint chunk {path!r} is unreadable ({exc}); recomputing it.",
                          UserWarning, stacklevel=2)
            return None
        self.loaded += 1
        return jax.tree.unflatten(treedef, arrays)

    def save(self, key: str, states) -> None:
        leaves = jax.tree.leaves(states)
        arrays = {f"leaf_{i}": np.asarray(leaf) for i, leaf in enumerate(leaves)}
        _write_atomically(self._path(key),
                          lambda f: np.savez(f, key=np.array(key), **arrays))
        self.saved += 1

"""Checkpoints: a killed search resumes where it stopped, with exactly the same scores.

A checkpoint folder holds `manifest.json` (the fingerprint of the search: estimator, search
parameters and data) and one `chunk-<fingerprint>-<key>.npz` per finished chunk of models
(their final training states, keyed by a hash of everything that determines them). Each chunk
also stores the fingerprint and key it was written for and is read only when both match, so no
chunk of one search is ever read by another, with or without the manifest.

Identity comes from content, never from `repr`: `fingerprint_of` hashes arrays, sparse
matrices and DataFrames by their values, estimators by their class and parameters, a
`RandomState` by its state and a function by its qualified name and code, so the same search
has the same fingerprint in every process. An object with no such description (a generator,
a lock, ...) raises `CheckpointIdentityError` at the start of the search, saying why.

Files are written to a fresh temporary file in the folder (`tempfile.mkstemp`: `O_EXCL`, never
through a planted link) and renamed, so a kill leaves either a whole file or none. Only regular
files are read (a link, FIFO or device in the folder is refused with a clear error instead of
being followed or hanging the run); a truncated or corrupt chunk is detected (zip checksums,
fingerprint, key, shape and size checks), reported and recomputed, and a corrupt manifest is
reported in one line and written again. Everything is plain arrays and JSON read with
`allow_pickle=False`: opening a checkpoint runs no code.

Example:
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> Checkpoint(folder, "abc").fingerprint
    'abc'
    >>> Checkpoint(folder, "other")
    Traceback (most recent call last):
    ...
    ValueError: checkpoint folder ... holds another search (fingerprint abc, this search other): ...
    >>> fingerprint_of([1, 2.0]) == fingerprint_of([1, 2.0]) != fingerprint_of([1, 2])
    True
"""

from __future__ import annotations

import datetime
import decimal
import fractions
import functools
import hashlib
import json
import os
import pathlib
import stat
import tempfile
import types
import warnings
import zipfile
from typing import Any

import jax
import numpy as np

__all__ = ["Checkpoint", "CheckpointIdentityError", "fingerprint_of", "open_regular_file"]

#: The largest manifest read (it holds a format name and a fingerprint).
MANIFEST_MAX_BYTES = 64 * 1024
#: How deep `fingerprint_of` follows nested containers and objects.
MAX_DEPTH = 64


class CheckpointIdentityError(ValueError):
    """A search part that has no description stable across processes: it cannot be resumed."""


# ---------------------------------------------------------------------------------------------
# Fingerprints: canonical, content-based, the same in every process.


class _Hasher:
    """Feeds a canonical, type-tagged encoding of Python values into one sha256."""

    def __init__(self):
        self.digest = hashlib.sha256()
        self.active = {}  # id -> depth of the objects being described: cycles, not sharing

    def tag(self, name: str, text: str = "") -> None:
        self.digest.update(f"<{name}:{len(text)}:".encode())
        self.digest.update(text.encode("utf-8", "surrogatepass"))

    def array(self, array: np.ndarray, path: str, depth: int) -> None:
        if array.dtype.hasobject:
            self.tag("object-array", str(array.shape))
            for item in array.ravel(order="C"):
                self.feed(item, path, depth + 1)
            return
        array = np.ascontiguousarray(array)
        self.tag("array", f"{array.dtype.str}{array.shape}")
        self.digest.update(array.reshape(-1).view(np.uint8).data)

    def feed(self, value, path: str = "value", depth: int = 0) -> None:
        if depth > MAX_DEPTH:
            raise CheckpointIdentityError(f"{path} is nested more than {MAX_DEPTH} levels deep.")
        if value is None or isinstance(value, (bool, float, complex)):
            self.tag(type(value).__name__, repr(value))
        elif isinstance(value, int):  # hex: no limit on the number of digits
            self.tag(type(value).__name__, format(value, "x"))
        elif isinstance(value, str):
            self.tag("str", value)
        elif isinstance(value, (bytes, bytearray, memoryview)):
            self.tag("bytes", str(len(value)))
            self.digest.update(bytes(value))
        elif isinstance(value, np.generic):
            self.array(np.asarray(value), path, depth)
        elif isinstance(value, np.dtype):
            self.tag("dtype", value.str if value.fields is None else repr(value.descr))
        elif isinstance(value, _BY_REPR) or value is Ellipsis or value is NotImplemented:
            self.tag(_qualified_name(type(value)), repr(value))  # their repr is their content
        elif id(value) in self.active:
            self.tag("cycle", str(depth - self.active[id(value)]))
        else:
            self.active[id(value)] = depth
            try:
                _describe(self, value, path, depth)
            finally:
                del self.active[id(value)]


#: Types whose repr shows their whole value.
_BY_REPR = (
    datetime.date,
    datetime.time,
    datetime.timedelta,
    decimal.Decimal,
    fractions.Fraction,
    pathlib.PurePath,
    range,
)


def _qualified_name(obj) -> str:
    return f"{getattr(obj, '__module__', None)}.{getattr(obj, '__qualname__', obj.__name__)}"


def _feed_code(h: _Hasher, code: types.CodeType, path: str, depth: int) -> None:
    h.tag("code", code.co_qualname if hasattr(code, "co_qualname") else code.co_name)
    h.digest.update(code.co_code)
    for name in ("co_names", "co_varnames", "co_freevars", "co_cellvars"):
        h.tag(name, " ".join(getattr(code, name)))
    h.tag("consts", str(len(code.co_consts)))
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _feed_code(h, const, path, depth + 1)
        else:
            h.feed(const, f"{path} (a constant of its code)", depth + 1)


def _describe(h: _Hasher, value, path: str, depth: int) -> None:
    import scipy.sparse as sp

    feed = h.feed
    if isinstance(value, np.ndarray):
        h.array(value, path, depth)
    elif sp.issparse(value):
        csr = sp.csr_array(value, copy=True)
        csr.sum_duplicates()
        csr.sort_indices()
        h.tag("sparse", f"{value.format}{value.shape}")
        for part in (csr.data, csr.indices.astype(np.int64), csr.indptr.astype(np.int64)):
            h.array(part, path, depth)
    elif type(value).__module__.startswith("pandas"):
        _describe_pandas(h, value, path, depth)
    elif isinstance(value, (list, tuple)):
        h.tag(type(value).__name__, str(len(value)))
        if isinstance(value, tuple) and hasattr(value, "_fields"):  # a NamedTuple
            h.tag("class", _qualified_name(type(value)))
        for i, item in enumerate(value):
            feed(item, f"{path}[{i}]", depth + 1)
    elif isinstance(value, dict):
        items = sorted((fingerprint_of(k), k, v) for k, v in ((k, value[k]) for k in value))
        h.tag("dict", str(len(items)))
        for _, key, item in items:
            feed(key, path, depth + 1)
            feed(item, f"{path}[{key!r:.40}]", depth + 1)
    elif isinstance(value, (set, frozenset)):
        h.tag("set", " ".join(sorted(fingerprint_of(item) for item in value)))
    elif isinstance(value, np.random.RandomState):
        name, keys, pos, has_gauss, cached = value.get_state()
        h.tag("RandomState", name)
        for part in (keys, pos, has_gauss, cached):
            feed(part, path, depth + 1)
    elif isinstance(value, np.random.Generator):
        h.tag("Generator")
        feed(value.bit_generator.state, path, depth + 1)
    elif isinstance(value, type):
        h.tag("class", _qualified_name(value))
    elif isinstance(value, types.ModuleType):
        h.tag("module", value.__name__)
    elif isinstance(value, (types.FunctionType, types.LambdaType)):
        h.tag("function", _qualified_name(value))
        _feed_code(h, value.__code__, path, depth)
        feed(value.__defaults__, f"{path} (its defaults)", depth + 1)
        feed(value.__kwdefaults__, f"{path} (its keyword defaults)", depth + 1)
        cells = [cell.cell_contents for cell in value.__closure__ or ()]
        feed(cells, f"{path} (its closure)", depth + 1)
    elif isinstance(value, types.MethodType):
        h.tag("method")
        feed(value.__func__, path, depth + 1)
        feed(value.__self__, f"{path} (its object)", depth + 1)
    elif isinstance(value, types.BuiltinFunctionType):
        h.tag("builtin", _qualified_name(value))
        owner = getattr(value, "__self__", None)
        if owner is not None and not isinstance(owner, types.ModuleType):
            feed(owner, f"{path} (its object)", depth + 1)
    elif isinstance(value, functools.partial):
        h.tag("partial")
        for part in (value.func, value.args, value.keywords):
            feed(part, path, depth + 1)
    elif isinstance(value, np.ufunc):
        h.tag("ufunc", value.__name__)
    elif hasattr(value, "get_params") and hasattr(type(value), "_get_param_names"):
        h.tag("estimator", _qualified_name(type(value)))  # scikit-learn's clone sees this
        feed(value.get_params(deep=False), path, depth + 1)
    elif type(value).__name__.endswith("_frozen") and hasattr(value, "dist"):
        # A frozen scipy.stats distribution: its family and arguments (its own random state
        # is not used: searches draw with their own random_state).
        h.tag("distribution", _qualified_name(type(value.dist)))
        feed((value.args, value.kwds), path, depth + 1)
    elif isinstance(value, slice):
        h.tag("slice")
        feed((value.start, value.stop, value.step), path, depth + 1)
    elif isinstance(
        value, (types.MethodDescriptorType, types.WrapperDescriptorType, types.MethodWrapperType)
    ):
        h.tag("descriptor", f"{_qualified_name(value)}")
    elif hasattr(value, "__dict__") and not isinstance(value, types.GeneratorType):
        # A plain object (a scorer, a splitter): its class and attributes.
        h.tag("object", _qualified_name(type(value)))
        feed(vars(value), path, depth + 1)
    else:
        raise CheckpointIdentityError(
            f"{path} is {_short_type(value)}, which has no description that stays the same "
            "from one process to the next (vgrid hashes arrays, numbers, strings, containers, "
            "estimators, RandomState objects and functions), so a checkpoint cannot tell "
            "whether a later run is the same search. Pass a value of one of those kinds, or "
            "run without checkpoint=."
        )


def _short_type(value) -> str:
    name = type(value).__name__
    return f"an object of type {type(value).__module__}.{name}"


def _describe_pandas(h: _Hasher, value, path: str, depth: int) -> None:
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        h.tag("DataFrame", str(value.shape))
        h.feed(value.columns, f"{path}.columns", depth + 1)
        h.feed(value.index, f"{path}.index", depth + 1)
        h.feed([str(dtype) for dtype in value.dtypes], f"{path}.dtypes", depth + 1)
        for i in range(value.shape[1]):
            h.array(np.asarray(value.iloc[:, i].to_numpy()), f"{path} column {i}", depth + 1)
    elif isinstance(value, pd.Series):
        h.tag("Series", str(value.dtype))
        h.feed(value.name, f"{path}.name", depth + 1)
        h.feed(value.index, f"{path}.index", depth + 1)
        h.array(np.asarray(value.to_numpy()), path, depth)
    elif isinstance(value, pd.Index):
        h.tag(type(value).__name__, str(value.dtype))
        h.feed(list(value.names), f"{path}.names", depth + 1)
        h.array(np.asarray(value.to_numpy()), path, depth)
    elif hasattr(value, "__len__") and hasattr(value, "__array__"):  # an extension array
        h.tag("pandas", f"{_qualified_name(type(value))} {value.dtype}")
        h.array(np.asarray(value, dtype=object), path, depth)
    else:  # a scalar (Timestamp, Timedelta, NA, NaT, Period, Interval): its repr is its value
        h.tag("pandas", f"{_qualified_name(type(value))} {value!r}")


def fingerprint_of(*parts, **named) -> str:
    """A hex digest of `parts` and `named` parts by their content, the same in every process
    (see the module docs). Raises `CheckpointIdentityError` for a part that has no such
    description; the message names the part (`estimator['random_state']`, say)."""
    hasher = _Hasher()
    for i, part in enumerate(parts):
        hasher.tag("part", str(i))
        hasher.feed(part, f"part {i}")
    for name in sorted(named):
        hasher.tag("named", name)
        hasher.feed(named[name], name)
    return hasher.digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# Files: written through fresh temporary files, read only when regular.


def open_regular_file(path: str, what: str = "file", max_bytes: int | None = None):
    """A binary file object for `path`, which must be a regular file (not a link, FIFO, device
    or folder), of at most `max_bytes` when given; raises FileNotFoundError when there is none
    and ValueError, with a clear message, for anything else. Never blocks on a FIFO."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if os.path.islink(path):
            raise ValueError(
                f"{what} {path!r} is a symbolic link; vgrid reads only regular "
                "files there. Remove the link."
            ) from None
        raise ValueError(f"{what} {path!r} cannot be opened: {exc.strerror}.") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(
                f"{what} {path!r} is {_file_kind(info.st_mode)}, not a regular "
                "file; vgrid reads only regular files. Remove it or give another "
                "path."
            )
        if max_bytes is not None and info.st_size > max_bytes:
            raise ValueError(
                f"{what} {path!r} has {info.st_size:,} bytes; at most {max_bytes:,} are read."
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _file_kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _write_atomically(path: str, write) -> None:
    """Write through a fresh temporary file in the same folder (created with O_EXCL by
    mkstemp: a link or file planted under any name is never opened), then rename it over
    `path` (a rename replaces a link at `path` itself, never its target)."""
    folder, name = os.path.split(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


class Checkpoint:
    """A folder of finished chunks for one search (see the module docstring)."""

    FORMAT = "vgrid-checkpoint-2"

    def __init__(self, folder: str, fingerprint: str):
        self.folder, self.fingerprint = folder, fingerprint
        self.loaded = self.saved = 0
        os.makedirs(folder, exist_ok=True)
        manifest = os.path.join(folder, "manifest.json")
        found = self._read_manifest(manifest)
        if found is not None and found != fingerprint:
            raise ValueError(
                f"checkpoint folder {folder!r} holds another search (fingerprint {found}, "
                f"this search {fingerprint}): the estimator, the search parameters or the "
                "data differ. Use another folder, or delete this one to start afresh."
            )
        if found is None:
            _write_atomically(
                manifest,
                lambda f: f.write(
                    json.dumps({"format": self.FORMAT, "fingerprint": fingerprint}).encode()
                ),
            )

    @staticmethod
    def _read_manifest(path: str) -> str | None:
        """The manifest's fingerprint; None when there is no manifest, or (reported in one
        line) when it is corrupt: the chunks carry their own fingerprint, so it is rewritten."""
        try:
            with open_regular_file(path, "checkpoint manifest", MANIFEST_MAX_BYTES) as f:
                text = f.read()
        except FileNotFoundError:
            return None
        except ValueError as exc:
            if "bytes; at most" not in str(exc):
                raise
            problem = str(exc)
        else:
            try:
                content = json.loads(text)
                found = content.get("fingerprint") if isinstance(content, dict) else None
                if isinstance(found, str) and 0 < len(found) <= 128:
                    return found
                problem = "it has no fingerprint"
            except (ValueError, UnicodeDecodeError, RecursionError) as exc:
                problem = f"not valid JSON: {str(exc).splitlines()[0][:80]}"
        warnings.warn(
            f"checkpoint manifest {path!r} is corrupt ({problem}); it is written "
            "again, and each chunk is checked against its own fingerprint.",
            UserWarning,
            stacklevel=4,
        )
        return None

    def _path(self, key: str) -> str:
        return os.path.join(self.folder, f"chunk-{self.fingerprint[:24]}-{key[:40]}.npz")

    def load(self, key: str, template):
        """The states saved under `key`, shaped like `template` (a pytree), or None."""
        path = self._path(key)
        leaves, treedef = jax.tree.flatten(template)
        try:
            f = open_regular_file(path, "checkpoint chunk")
        except FileNotFoundError:
            return None
        try:
            with f, np.load(f, allow_pickle=False) as stored:
                if str(stored["fingerprint"]) != self.fingerprint:
                    raise ValueError("written by another search")
                if str(stored["key"]) != key:
                    raise ValueError("key mismatch")
                arrays = []
                for i, leaf in enumerate(leaves):
                    name = f"leaf_{i}"
                    # Bound what is decompressed by what the template says the chunk holds.
                    expected = np.asarray(leaf).nbytes + 4096
                    if stored.zip.getinfo(f"{name}.npy").file_size > expected:
                        raise ValueError(f"{name} is larger than this chunk's models")
                    arrays.append(stored[name])
            for array, leaf in zip(arrays, leaves):
                if array.shape != np.shape(leaf) or array.dtype != np.asarray(leaf).dtype:
                    raise ValueError("shape mismatch")
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            warnings.warn(
                f"checkpoint chunk {path!r} is unreadable ({exc}); recomputing it.",
                UserWarning,
                stacklevel=2,
            )
            return None
        self.loaded += 1
        return jax.tree.unflatten(treedef, arrays)

    def save(self, key: str, states) -> None:
        leaves = jax.tree.leaves(states)
        payload: dict[str, Any] = {"fingerprint": np.array(self.fingerprint), "key": np.array(key)}
        payload.update((f"leaf_{i}", np.asarray(leaf)) for i, leaf in enumerate(leaves))
        _write_atomically(
            self._path(key),
            lambda f: np.savez(f, **payload),
        )
        self.saved += 1

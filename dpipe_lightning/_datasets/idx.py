"""Reading and writing the gzipped IDX files of MNIST."""

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

__all__ = ['IMAGES_FILE', 'IMAGES_MAGIC', 'LABELS_FILE', 'LABELS_MAGIC', 'read_idx', 'write_idx']

IMAGES_FILE = 'train-images-idx3-ubyte.gz'
LABELS_FILE = 'train-labels-idx1-ubyte.gz'
# 0x0000 (two zero bytes), 0x08 (unsigned byte), number of dimensions
IMAGES_MAGIC = 0x0803  # 2051
LABELS_MAGIC = 0x0801  # 2049


def read_idx(path: Path, magic: int) -> np.ndarray:
    """Read a gzipped unsigned-byte IDX file, validating its header; the shape is taken from the header."""
    ndim = magic & 0xFF
    header_size = 4 * (ndim + 1)
    try:
        with gzip.open(path, 'rb') as file:
            data = file.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise ValueError(f'{path}: not a valid gzip file ({error})') from error

    if len(data) < header_size:
        raise ValueError(
            f'{path}: truncated header: {len(data)} bytes, expected at least {header_size} '
            f'(magic number and {ndim} dimension sizes)'
        )
    found_magic, *shape = (int(value) for value in np.frombuffer(data, '>u4', ndim + 1))
    if found_magic != magic:
        raise ValueError(f'{path}: wrong magic number {found_magic}, expected {magic} (unsigned bytes, {ndim}-D)')

    expected_size = header_size + int(np.prod(shape))
    if len(data) != expected_size:
        problem = 'truncated' if len(data) < expected_size else 'has trailing bytes'
        raise ValueError(
            f'{path}: {problem}: {len(data)} bytes after decompression, the header (shape {tuple(shape)}) '
            f'implies {expected_size}'
        )
    return np.frombuffer(data, np.uint8, offset=header_size).reshape(shape)


def write_idx(path: os.PathLike, array: np.ndarray, magic: int) -> None:
    """Write a uint8 array as a gzipped IDX file (byte-reproducible: the gzip timestamp is 0)."""
    header = np.array([magic, *array.shape], dtype='>u4').tobytes()
    with open(path, 'wb') as raw, gzip.GzipFile(fileobj=raw, mode='wb', mtime=0) as file:
        file.write(header)
        file.write(np.ascontiguousarray(array, dtype=np.uint8).tobytes())

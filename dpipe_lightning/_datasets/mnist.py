"""The MNIST training set, read from gzipped IDX files."""

import os
from pathlib import Path

import numpy as np

from .._checks import reject
from .base import ImageLabelDataset
from .idx import IMAGES_FILE, IMAGES_MAGIC, LABELS_FILE, LABELS_MAGIC, read_idx, write_idx

__all__ = ['MNIST', 'write_mnist']

IMAGE_SIZE = 28
_EXPECTED_FILES = f'{IMAGES_FILE} and {LABELS_FILE}'


def _existing_file(folder: Path, name: str, content: str) -> Path:
    path = folder / name
    if not path.is_file():
        hint = ''
        if (folder / name.removesuffix('.gz')).is_file():
            hint = f'; found the uncompressed {name.removesuffix(".gz")}, gzip it'
        raise FileNotFoundError(f'{path} not found: expected the MNIST training {content} as a gzipped IDX file{hint}')
    return path


class MNIST(ImageLabelDataset):
    """
    The MNIST training set (``train-*-ubyte.gz``), loaded into memory.

    Parameters
    ----------
    folder
        the folder with ``train-images-idx3-ubyte.gz`` and ``train-labels-idx1-ubyte.gz``; ``~`` is expanded.

    Attributes
    ----------
    xs
        float32 images of shape ``(n, 1, 28, 28)`` with the raw values 0-255 (not normalised).
    ys
        int64 labels of shape ``(n,)``.
    ids
        ``tuple(range(n))``.
    n_chans_image
        1.

    Raises
    ------
    TypeError
        if ``folder`` is not a path.
    FileNotFoundError
        if the folder or one of the files does not exist.
    ValueError
        if a file is not a gzipped IDX file of the expected kind (magic number 2051 for the images, 2049 for
        the labels), its size disagrees with its header, the images are not 28x28 or the counts differ.

    See Also
    --------
    write_mnist: writes files in this format.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        if not isinstance(folder, str | os.PathLike):
            reject(TypeError, 'MNIST folder', f'a path (str or os.PathLike) to a folder with {_EXPECTED_FILES}', folder)
        folder = Path(folder).expanduser()
        if not folder.exists():
            raise FileNotFoundError(f'MNIST folder {folder} not found: expected a folder with {_EXPECTED_FILES}')
        if not folder.is_dir():
            raise NotADirectoryError(f'MNIST folder {folder} is not a folder: expected a folder with {_EXPECTED_FILES}')
        images_path = _existing_file(folder, IMAGES_FILE, 'images')
        labels_path = _existing_file(folder, LABELS_FILE, 'labels')

        images = read_idx(images_path, IMAGES_MAGIC)
        if images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(
                f'{images_path}: images of size {images.shape[1]}x{images.shape[2]}, expected {IMAGE_SIZE}x{IMAGE_SIZE}'
            )
        labels = read_idx(labels_path, LABELS_MAGIC)
        if len(images) != len(labels):
            raise ValueError(f'{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels')

        self.folder = folder
        super().__init__(images[:, None].astype(np.float32), labels.astype(np.int64))


def _as_integer_bytes(values: object, name: str) -> np.ndarray:
    array = np.asarray(values)
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise TypeError(f'{name} must hold integers or floats, got dtype {array.dtype}')
    if array.size:
        low, high = array.min(), array.max()
        if not (0 <= low and high <= 255):
            raise ValueError(f'{name} must lie in 0..255, got values in [{low}, {high}]')
        if np.issubdtype(array.dtype, np.floating) and not np.array_equal(array, np.round(array)):
            raise ValueError(f'{name} must hold whole numbers (they are stored as unsigned bytes)')
    return array.astype(np.uint8)


def write_mnist(folder: str | os.PathLike, images: np.ndarray, labels: np.ndarray) -> tuple[Path, Path]:
    """
    Write images and labels as an MNIST training set readable by ``MNIST(folder)``.

    Parameters
    ----------
    folder
        the destination folder (``~`` is expanded, missing parents are created, existing files are replaced).
    images
        whole numbers in 0..255 of shape ``(n, 28, 28)`` or ``(n, 1, 28, 28)``, e.g. uint8 or
        ``MNIST(...).xs``.
    labels
        whole numbers in 0..255 of shape ``(n,)``.

    Returns
    -------
    images_path, labels_path
        the written ``train-images-idx3-ubyte.gz`` and ``train-labels-idx1-ubyte.gz``.
    """
    images = _as_integer_bytes(images, 'images')
    labels = _as_integer_bytes(labels, 'labels')
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f'images must have shape (n, 28, 28) or (n, 1, 28, 28), got {images.shape}')
    if labels.ndim != 1:
        raise ValueError(f'labels must have shape (n,), got {labels.shape}')
    if len(images) != len(labels):
        raise ValueError(f'got {len(images)} images but {len(labels)} labels')

    folder = Path(folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    images_path, labels_path = folder / IMAGES_FILE, folder / LABELS_FILE
    write_idx(images_path, images, IMAGES_MAGIC)
    write_idx(labels_path, labels, LABELS_MAGIC)
    return images_path, labels_path

"""In-memory image classification dataset shared by ``MNIST`` and ``Digits``."""

import numpy as np

__all__ = ['ImageLabelDataset']


class ImageLabelDataset:
    """
    Images and labels held in memory, identified by their integer index.

    Parameters
    ----------
    xs
        float32 images of shape ``(n, n_chans_image, *spatial)``.
    ys
        int64 labels of shape ``(n,)``.

    Attributes
    ----------
    xs, ys
        the images and the labels.
    ids
        ``tuple(range(n))``.
    n_chans_image
        the number of image channels.
    """

    def __init__(self, xs: np.ndarray, ys: np.ndarray) -> None:
        if len(xs) != len(ys):
            raise ValueError(f'got {len(xs)} images but {len(ys)} labels')
        self.xs = xs
        self.ys = ys
        self.ids = tuple(range(len(ys)))
        self.n_chans_image = int(xs.shape[1])

    def load_image(self, identifier: int) -> np.ndarray:
        """The image ``xs[int(identifier)]``: float32 of shape ``(n_chans_image, *spatial)`` (a view)."""
        return self.xs[int(identifier)]

    def load_label(self, identifier: int) -> np.int64:
        """The label ``ys[int(identifier)]``."""
        return self.ys[int(identifier)]

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(n={len(self)}, image_shape={tuple(self.xs.shape[1:])})'

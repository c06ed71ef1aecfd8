"""scikit-learn's bundled handwritten digits, shaped like MNIST."""

import numpy as np
import torch
import torch.nn.functional as F

from .._checks import check_int, check_number
from .base import ImageLabelDataset
from .split import train_val_split

__all__ = ['Digits']

ORIGINAL_SIZE = 8
ORIGINAL_MAX_VALUE = 16


class Digits(ImageLabelDataset):
    """
    The 1797 8x8 handwritten digits bundled with scikit-learn (no download), resized and scaled like MNIST.

    A small offline stand-in for ``MNIST`` with the same interface. Needs scikit-learn:
    ``pip install 'dpipe_lightning[demo]'``.

    Parameters
    ----------
    size
        the image side, at least 8; the 8x8 originals are resized bilinearly, ``size=8`` keeps them as
        they are.
    max_value
        the value that the originals' maximum 16 maps to; the default 255 gives the MNIST range 0-255,
        16 keeps the original scale.

    Attributes
    ----------
    xs
        float32 images of shape ``(1797, 1, size, size)`` with values in ``[0, max_value]``.
    ys
        int64 labels 0-9 of shape ``(1797,)``.
    ids
        ``tuple(range(1797))``.
    n_chans_image
        1.
    """

    def __init__(self, size: int = 28, max_value: float = 255.0) -> None:
        check_int('size', size, minimum=ORIGINAL_SIZE)
        check_number('max_value', max_value, minimum=0, strict=True)
        try:
            from sklearn.datasets import load_digits
        except ImportError as error:
            raise ImportError(
                "Digits needs scikit-learn; install it with pip install 'dpipe_lightning[demo]'"
            ) from error

        digits = load_digits()
        images = torch.from_numpy(digits.images.astype(np.float32))[:, None]
        if size != ORIGINAL_SIZE:
            images = F.interpolate(images, size=(int(size), int(size)), mode='bilinear', align_corners=False)
        images = images * (float(max_value) / ORIGINAL_MAX_VALUE)

        self.size = int(size)
        self.max_value = float(max_value)
        super().__init__(images.numpy(), digits.target.astype(np.int64))

    def split(self, val_fraction: float = 0.2, random_state: int | None = 0) -> tuple[list[int], list[int]]:
        """
        A seeded split of ``ids``, stratified by label.

        Returns
        -------
        train_ids, val_ids
            see ``train_val_split``.
        """
        return train_val_split(self.ids, self.ys, val_fraction=val_fraction, random_state=random_state)

"""Random geometric augmentation of image batches with ``torchvision.transforms.v2``.

A ``v2`` transform called on a batch tensor draws one set of random parameters for the whole
batch; :class:`BatchAugmentation` draws them per image (or per small group of images, for
speed), so each image in a batch gets its own flip, rotation, shift, zoom and shear.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn
from torchvision.transforms import v2

__all__ = ["BatchAugmentation", "make_augmentation"]


class BatchAugmentation(nn.Module):
    """Flip, rotation, shift, zoom and shear applied image by image to a float batch.

    Parameters
    ----------
    hflip : float
        Probability of a horizontal flip.
    degrees : float
        Rotation drawn from ``[-degrees, degrees]``.
    translate : float or (float, float)
        Maximum shift as a fraction of width and height.
    scale : (float, float) or None
        Zoom factor range, e.g. ``(0.9, 1.1)``.
    shear : float
        Shear angle (degrees) drawn from ``[-shear, shear]``.
    group_size : int
        Images that share one draw of random parameters; 1 (default) gives every image its own.

    Input and output are float tensors ``(b, C, H, W)``; areas moved in from outside the image
    are filled with 0. Random numbers come from torch's global generator, so a seeded training
    run is repeatable.
    """

    def __init__(
        self,
        hflip: float = 0.5,
        degrees: float = 10.0,
        translate: float | Sequence[float] = 0.1,
        scale: Sequence[float] | None = (0.9, 1.1),
        shear: float = 5.0,
        group_size: int = 1,
    ) -> None:
        super().__init__()
        if isinstance(translate, (int, float)):
            translate = (float(translate), float(translate))
        steps: list[nn.Module] = []
        if hflip > 0:
            steps.append(v2.RandomHorizontalFlip(p=hflip))
        if degrees or any(translate) or scale is not None or shear:
            steps.append(
                v2.RandomAffine(
                    degrees=degrees,
                    translate=tuple(translate) if any(translate) else None,
                    scale=tuple(scale) if scale is not None else None,
                    shear=shear if shear else None,
                )
            )
        self.transform = v2.Compose(steps) if steps else None
        self.group_size = int(group_size)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        if self.transform is None:
            return batch
        if batch.ndim != 4:
            raise ValueError(f"augmentation expects a (b, C, H, W) batch, got {tuple(batch.shape)}")
        chunks = torch.split(batch, self.group_size)
        return torch.cat([self.transform(chunk) for chunk in chunks])


def make_augmentation(spec: object) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """Turn an ``augment=`` parameter into a batch transform.

    ``None``/``False``: none. ``True``/``"default"``: :class:`BatchAugmentation` defaults
    (flip 0.5, rotation 10 degrees, shift 10%, zoom 0.9-1.1, shear 5 degrees). ``"pain"``: the
    MobileNetV3-pain paper's rotation 20, shift 15%, zoom 20%, flip, shear 0.05 rad (about 3
    degrees). A dict: keyword arguments of :class:`BatchAugmentation`. A callable: used as is on
    each float batch ``(b, C, H, W)``.
    """
    if spec is None or spec is False:
        return None
    if spec is True or spec == "default":
        return BatchAugmentation()
    if spec == "pain":
        return BatchAugmentation(degrees=20, translate=0.15, scale=(0.8, 1.2), shear=2.9)
    if isinstance(spec, Mapping):
        try:
            return BatchAugmentation(**spec)
        except TypeError as exc:
            raise ValueError(f"augment dict has an unknown key: {exc}") from None
    if callable(spec):
        return spec
    raise ValueError(
        f"augment must be None, True, 'default', 'pain', a dict of BatchAugmentation "
        f"arguments or a callable, got {spec!r}"
    )

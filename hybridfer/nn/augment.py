"""Random augmentation of whole image batches on their device, drawn per image.

:class:`BatchAugmentation` applies flip, rotation, shift, zoom, shear and a random crop with
padding to a float batch ``(b, C, H, W)`` in **one** ``affine_grid``/``grid_sample`` call: each
image gets its own random 2x3 matrix, so the work is a handful of batched tensor operations
instead of a Python loop over images (over 10x faster than calling
``torchvision.transforms.v2.RandomAffine`` image by image on the CPU; see
``benchmarks/bench_training.py``). Random erasing cuts one rectangle per chosen image with a
vectorised mask. Mixup and CutMix (:meth:`BatchAugmentation.mix`) mix each image with another
of the batch, with its own mixing ratio; the training loop mixes the two labels' losses in the
same ratio.

Random numbers come from torch's global generator on the batch's device, so a seeded training
run is repeatable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PRESETS", "BatchAugmentation", "make_augmentation"]


def _uniform(n: int, low: float, high: float, device: torch.device) -> torch.Tensor:
    return torch.rand(n, device=device) * (high - low) + low


class BatchAugmentation(nn.Module):
    """Per-image random geometric augmentation, random erasing and mixing of a float batch.

    Parameters
    ----------
    hflip : float, default=0.5
        Probability of a horizontal flip.
    degrees : float, default=10.0
        Rotation drawn from ``[-degrees, degrees]``.
    translate : float or (float, float), default=0.1
        Maximum shift as a fraction of width and height.
    scale : (float, float) or None, default=(0.9, 1.1)
        Zoom factor range.
    shear : float, default=5.0
        Horizontal shear angle (degrees) drawn from ``[-shear, shear]``.
    crop_padding : int, default=0
        Random crop with padding: the image is padded with ``crop_padding`` zero pixels on
        every side and a crop of the original size is taken at a random place (a random
        whole-pixel shift of up to ``crop_padding``).
    erasing : float, default=0.0
        Probability of erasing (zeroing) one random rectangle of an image.
    erasing_scale : (float, float), default=(0.02, 0.2)
        Area of the rectangle as a fraction of the image.
    erasing_ratio : (float, float), default=(0.3, 3.3)
        Aspect-ratio range of the rectangle (drawn log-uniformly).
    mixup : float, default=0.0
        Mixup's Beta(alpha, alpha) parameter (0: no mixup).
    cutmix : float, default=0.0
        CutMix's Beta(alpha, alpha) parameter (0: no CutMix). With both, each mixed image uses
        one of the two at random.
    mix_prob : float, default=1.0
        Probability that an image is mixed at all (when ``mixup`` or ``cutmix`` is set).
    group_size : int, default=1
        Images that share one draw of random geometric parameters; 1 gives every image its own.

    Areas moved in from outside the image are filled with 0.
    """

    def __init__(
        self,
        hflip: float = 0.5,
        degrees: float = 10.0,
        translate: float | Sequence[float] = 0.1,
        scale: Sequence[float] | None = (0.9, 1.1),
        shear: float = 5.0,
        crop_padding: int = 0,
        erasing: float = 0.0,
        erasing_scale: Sequence[float] = (0.02, 0.2),
        erasing_ratio: Sequence[float] = (0.3, 3.3),
        mixup: float = 0.0,
        cutmix: float = 0.0,
        mix_prob: float = 1.0,
        group_size: int = 1,
    ) -> None:
        super().__init__()
        if isinstance(translate, (int, float)):
            translate = (float(translate), float(translate))
        for name, value in (("hflip", hflip), ("erasing", erasing), ("mix_prob", mix_prob)):
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} is a probability in [0, 1], got {value!r}")
        for name, value in (("mixup", mixup), ("cutmix", cutmix), ("degrees", degrees)):
            if float(value) < 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        if int(crop_padding) < 0 or int(group_size) < 1:
            raise ValueError("crop_padding must be >= 0 and group_size >= 1")
        self.hflip = float(hflip)
        self.degrees = float(degrees)
        self.translate = (float(translate[0]), float(translate[1]))
        self.scale = None if scale is None else (float(scale[0]), float(scale[1]))
        self.shear = float(shear or 0.0)
        self.crop_padding = int(crop_padding)
        self.erasing = float(erasing)
        self.erasing_scale = (float(erasing_scale[0]), float(erasing_scale[1]))
        self.erasing_ratio = (float(erasing_ratio[0]), float(erasing_ratio[1]))
        self.mixup = float(mixup)
        self.cutmix = float(cutmix)
        self.mix_prob = float(mix_prob)
        self.group_size = int(group_size)

    @property
    def mixes_labels(self) -> bool:
        """Whether :meth:`mix` changes anything (the loss must then mix two labels)."""
        return (self.mixup > 0 or self.cutmix > 0) and self.mix_prob > 0

    def _geometric(self) -> bool:
        return bool(
            self.hflip > 0
            or self.degrees
            or any(self.translate)
            or self.scale is not None
            or self.shear
            or self.crop_padding
        )

    def _draw(self, n: int, device: torch.device) -> dict[str, torch.Tensor]:
        """Random parameters of ``n`` draws."""
        zero = torch.zeros(n, device=device)
        p = {
            "flip": (torch.rand(n, device=device) < self.hflip) if self.hflip > 0 else zero > 0,
            "angle": _uniform(n, -self.degrees, self.degrees, device) if self.degrees else zero,
            "tx": _uniform(n, -self.translate[0], self.translate[0], device),
            "ty": _uniform(n, -self.translate[1], self.translate[1], device),
            "scale": _uniform(n, *self.scale, device) if self.scale is not None else zero + 1,
            "shear": _uniform(n, -self.shear, self.shear, device) if self.shear else zero,
        }
        if self.crop_padding:
            k = self.crop_padding
            p["cx"] = torch.randint(-k, k + 1, (n,), device=device).float()
            p["cy"] = torch.randint(-k, k + 1, (n,), device=device).float()
        else:
            p["cx"] = p["cy"] = zero
        return p

    def _theta(self, n: int, h: int, w: int, device: torch.device) -> torch.Tensor:
        """Per-image 2x3 matrices mapping output to input coordinates (``affine_grid``'s
        convention, normalised to [-1, 1])."""
        groups = math.ceil(n / self.group_size)
        p = {
            k: v.repeat_interleave(self.group_size)[:n]
            for k, v in self._draw(groups, device).items()
        }
        a = torch.deg2rad(p["angle"])
        sh = torch.deg2rad(p["shear"])
        s = p["scale"]
        # forward map in pixel units about the centre: x' = R(a) Sh(sh) s x + t
        cos, sin, tan = torch.cos(a), torch.sin(a), torch.tan(sh)
        m00, m01 = cos * s, (cos * tan - sin) * s
        m10, m11 = sin * s, (sin * tan + cos) * s
        tx = p["tx"] * w + p["cx"]
        ty = p["ty"] * h + p["cy"]
        det = m00 * m11 - m01 * m10
        i00, i01, i10, i11 = m11 / det, -m01 / det, -m10 / det, m00 / det
        # inverse map in pixels: x = M^-1 (x' - t); then to normalised coordinates
        j00, j01 = i00, i01 * h / w
        j10, j11 = i10 * w / h, i11
        b0 = -(i00 * tx + i01 * ty) * 2 / w
        b1 = -(i10 * tx + i11 * ty) * 2 / h
        flip = torch.where(p["flip"], -1.0, 1.0)
        # a flip mirrors the input coordinates read by every output pixel
        theta = torch.stack(
            [
                torch.stack([j00 * flip, j01 * flip, b0 * flip], dim=1),
                torch.stack([j10, j11, b1], dim=1),
            ],
            dim=1,
        )
        return theta

    def _erase(self, batch: torch.Tensor) -> torch.Tensor:
        n, _, h, w = batch.shape
        dev = batch.device
        area = _uniform(n, *self.erasing_scale, dev) * h * w
        log_r = _uniform(n, math.log(self.erasing_ratio[0]), math.log(self.erasing_ratio[1]), dev)
        ratio = torch.exp(log_r)
        eh = torch.sqrt(area * ratio).clamp(1, h)
        ew = torch.sqrt(area / ratio).clamp(1, w)
        y0 = torch.rand(n, device=dev) * (h - eh)
        x0 = torch.rand(n, device=dev) * (w - ew)
        chosen = torch.rand(n, device=dev) < self.erasing
        ys = torch.arange(h, device=dev).view(1, h, 1)
        xs = torch.arange(w, device=dev).view(1, 1, w)
        box = (
            (ys >= y0.view(n, 1, 1))
            & (ys < (y0 + eh).view(n, 1, 1))
            & (xs >= x0.view(n, 1, 1))
            & (xs < (x0 + ew).view(n, 1, 1))
            & chosen.view(n, 1, 1)
        )
        return batch.masked_fill(box.unsqueeze(1), 0.0)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        if batch.ndim != 4:
            raise ValueError(f"augmentation expects a (b, C, H, W) batch, got {tuple(batch.shape)}")
        n, c, h, w = batch.shape
        if n == 0:
            return batch
        out = batch
        flip_only = self.hflip > 0 and not (
            self.degrees or any(self.translate) or self.scale is not None or self.shear
        )
        if flip_only and not self.crop_padding:  # exact, and no resampling at all
            groups = math.ceil(n / self.group_size)
            flip = torch.rand(groups, device=batch.device) < self.hflip
            flip = flip.repeat_interleave(self.group_size)[:n].view(n, 1, 1, 1)
            out = torch.where(flip, batch.flip(-1), batch)
        elif self._geometric():
            theta = self._theta(n, h, w, batch.device).to(batch.dtype)
            grid = F.affine_grid(theta, [n, c, h, w], align_corners=False)
            out = F.grid_sample(
                out, grid, mode="bilinear", padding_mode="zeros", align_corners=False
            )
        if self.erasing > 0:
            out = self._erase(out)
        return out

    def mix(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mixup / CutMix each image with a random partner of the batch.

        Returns
        -------
        mixed : tensor (b, C, H, W)
        partner : tensor of int64 (b,)
            Index of each image's partner.
        lam : tensor (b,)
            Weight of each image's own label (1 where the image was not mixed); the partner's
            label gets ``1 - lam``.
        """
        n, _, h, w = batch.shape
        dev = batch.device
        partner = torch.randperm(n, device=dev)
        lam = torch.ones(n, device=dev)
        if not self.mixes_labels or n < 2:
            return batch, partner, lam
        mixed = torch.rand(n, device=dev) < self.mix_prob
        use_cutmix = torch.zeros(n, dtype=torch.bool, device=dev)
        if self.cutmix > 0 and self.mixup > 0:
            use_cutmix = torch.rand(n, device=dev) < 0.5
        elif self.cutmix > 0:
            use_cutmix[:] = True
        alpha_mix = self.mixup if self.mixup > 0 else 1.0
        alpha_cut = self.cutmix if self.cutmix > 0 else 1.0
        draw_mix = torch.distributions.Beta(alpha_mix, alpha_mix).sample((n,)).to(dev)
        draw_cut = torch.distributions.Beta(alpha_cut, alpha_cut).sample((n,)).to(dev)
        # CutMix: a box of area (1 - lam) from the partner; lam is then the kept area
        cut_h = (h * torch.sqrt(1 - draw_cut)).round()
        cut_w = (w * torch.sqrt(1 - draw_cut)).round()
        cy = torch.randint(0, h, (n,), device=dev).float()
        cx = torch.randint(0, w, (n,), device=dev).float()
        y0, y1 = (cy - cut_h / 2).clamp(0, h), (cy + cut_h / 2).clamp(0, h)
        x0, x1 = (cx - cut_w / 2).clamp(0, w), (cx + cut_w / 2).clamp(0, w)
        ys = torch.arange(h, device=dev).view(1, h, 1)
        xs = torch.arange(w, device=dev).view(1, 1, w)
        box = (
            (ys >= y0.view(n, 1, 1))
            & (ys < y1.view(n, 1, 1))
            & (xs >= x0.view(n, 1, 1))
            & (xs < x1.view(n, 1, 1))
        )
        cut_lam = 1 - box.flatten(1).float().mean(1)
        lam = torch.where(mixed, torch.where(use_cutmix, cut_lam, draw_mix), lam)
        other = batch[partner]
        blend = lam.view(n, 1, 1, 1).to(batch.dtype)
        mixup_out = blend * batch + (1 - blend) * other
        cut_mask = (box & (mixed & use_cutmix).view(n, 1, 1)).unsqueeze(1)
        out = torch.where((mixed & ~use_cutmix).view(n, 1, 1, 1), mixup_out, batch)
        out = torch.where(cut_mask, other, out)
        return out, partner, lam


#: Named augmentation settings (keyword arguments of :class:`BatchAugmentation`).
PRESETS: dict[str, dict] = {
    # flip 0.5, rotation 10 degrees, shift 10%, zoom 0.9-1.1, shear 5 degrees
    "default": {},
    # the MobileNetV3-pain paper: rotation 20, shift 15%, zoom 20%, flip, shear 0.05 rad
    "pain": {"degrees": 20, "translate": 0.15, "scale": (0.8, 1.2), "shear": 2.9},
    # FER2013 from scratch: flip, small affine, crop with 4 px padding, random erasing
    "fer": {
        "degrees": 10,
        "translate": 0.0,
        "scale": (0.9, 1.1),
        "shear": 0.0,
        "crop_padding": 4,
        "erasing": 0.25,
    },
    # "fer" with rarer erasing (p 0.1), for time budgets of an hour or less on a CPU
    "fer_light": {
        "degrees": 10,
        "translate": 0.0,
        "scale": (0.9, 1.1),
        "shear": 0.0,
        "crop_padding": 4,
        "erasing": 0.1,
    },
    # "fer" with CutMix / mixup on half of the images
    "fer_mix": {
        "degrees": 10,
        "translate": 0.0,
        "scale": (0.9, 1.1),
        "shear": 0.0,
        "crop_padding": 4,
        "erasing": 0.25,
        "mixup": 0.2,
        "cutmix": 1.0,
        "mix_prob": 0.5,
    },
}


def make_augmentation(spec: object) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """Turn an ``augment=`` parameter into a batch transform.

    ``None``/``False``: none. ``True``/``"default"``: :class:`BatchAugmentation` defaults
    (flip 0.5, rotation 10 degrees, shift 10%, zoom 0.9-1.1, shear 5 degrees). ``"pain"``: the
    MobileNetV3-pain paper's rotation 20, shift 15%, zoom 20%, flip, shear 0.05 rad (about 3
    degrees). ``"fer"``: flip, rotation 10, zoom 0.9-1.1, a random crop with 4 px padding and
    random erasing (p 0.25); ``"fer_light"``: the same with erasing at p 0.1; ``"fer_mix"`` adds mixup (0.2) / CutMix (1.0) on half the images.
    A dict: keyword arguments of :class:`BatchAugmentation`. A callable: used as is on each
    float batch ``(b, C, H, W)``.
    """
    if spec is None or spec is False:
        return None
    if spec is True:
        spec = "default"
    if isinstance(spec, str):
        if spec not in PRESETS:
            raise ValueError(
                f"augment={spec!r} is not a preset; expected one of {sorted(PRESETS)}, a dict "
                "of BatchAugmentation arguments or a callable"
            )
        return BatchAugmentation(**PRESETS[spec])
    if isinstance(spec, Mapping):
        try:
            return BatchAugmentation(**spec)
        except TypeError as exc:
            raise ValueError(f"augment dict has an unknown key: {exc}") from None
    if callable(spec):
        return spec
    raise ValueError(
        f"augment must be None, True, a preset name {sorted(PRESETS)}, a dict of "
        f"BatchAugmentation arguments or a callable, got {spec!r}"
    )

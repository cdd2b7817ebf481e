"""Wrong inputs never pass silently: one table of bad inputs, each refused in words that name
the input and what was expected.

Every case is a call that must raise: the table checks the exception type, that the message
holds fragments naming the input (argument, file, line, column, value) and fragments saying
what was expected, and that no numpy repr (``np.str_('happy')``, ``np.int64(9)``) leaks into
it. Data is tiny and generated; the fitted estimators are shared by the whole module.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from sklearn.exceptions import NotFittedError

from hybridfer.cache import FeatureCache
from hybridfer.classifiers import FERNetClassifier, LSTMHeadClassifier, WNXGBClassifier
from hybridfer.data import FERDataset, load_ckplus48, load_fer2013, load_image_folder
from hybridfer.extractors import CNNFeatures, MobileNetV3Features
from hybridfer.handcrafted import HOGFeatures, LBPFeatures
from hybridfer.images import ImageReadError, as_image_source
from hybridfer.nn.weights import WeightsMismatchError, WeightsUnavailableError

NUMPY_REPR = re.compile(r"np\.(str_|bytes_|int\d+|uint\d+|float\d+|bool_?)\(")


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest.py


# -- shared inputs and fitted estimators -------------------------------------------------
class Ctx:
    """What the cases read: a folder of files, images, and fitted estimators."""

    def __init__(self, root: Path) -> None:
        self.root = root
        rng = np.random.default_rng(0)
        self.u8 = rng.integers(0, 256, (6, 32, 32), dtype=np.uint8)
        self.labels = np.array(["happy", "sad", "happy", "sad", "happy", "sad"])
        self.hog = HOGFeatures(pixels_per_cell=8).fit(self.u8)
        tiny = {"weights": None, "input_size": 32, "random_state": 0, "cache": None}
        self.deep = MobileNetV3Features("small", precision="float32", **tiny).fit(self.u8)
        self.deep_tiny = tiny
        faces = rng.integers(0, 60, (8, 24, 24), dtype=np.uint8)
        faces[::2, 2:8, 4:16] = 230
        self.faces, self.face_labels = faces, np.array(["happy", "sad"] * 4)
        self.cnn = CNNFeatures("cnnlstm_model1", epochs=1, batch_size=8, random_state=0).fit(
            faces, self.face_labels
        )
        seq = rng.normal(size=(12, 6, 4)).astype(np.float32)
        self.lstm = LSTMHeadClassifier(epochs=1, hidden_size=4, random_state=0).fit(
            seq, np.arange(12) % 2
        )
        self.wnxgb = WNXGBClassifier(n_estimators=2).fit(rng.normal(size=(20, 3)), [0, 1] * 10)
        self.weights = self._weight_files()

    def path(self, name: str) -> Path:
        return self.root / name

    def _weight_files(self) -> dict[str, str]:
        small = torchvision.models.mobilenet_v3_small(weights=None).state_dict()
        large = torchvision.models.mobilenet_v3_large(weights=None).state_dict()
        head7 = dict(small)
        head7["classifier.3.weight"] = torch.zeros(7, 1024)
        head7["classifier.3.bias"] = torch.zeros(7)
        files = {
            "large": large,
            "head7": head7,
            "partial": {k: v for k, v in small.items() if not k.startswith("features.12")},
            "unrelated": {"encoder.weight": torch.zeros(3, 3)},
        }
        out = {}
        for name, state in files.items():
            torch.save(state, self.path(f"{name}.pt"))
            out[name] = str(self.path(f"{name}.pt"))
        self.path("bad.pt").write_bytes(b"not a torch file")
        torch.save(torch.nn.Linear(2, 2), self.path("pickled.pt"))
        blob = self.path("head7.pt").read_bytes()
        self.path("truncated.pt").write_bytes(blob[: len(blob) // 2])
        self.path("model.safetensors").write_bytes(b"{}")
        return out

    def csv(self, name: str, rows: list[str], header: str = "emotion,pixels,Usage") -> Path:
        """A FER2013-like CSV (header on line 1, one image per line)."""
        p = self.path(name)
        p.write_text("\n".join([header, *rows]) + "\n")
        return p

    def folder(self, name: str, layout: dict[str, list[tuple[int, int]]]) -> Path:
        """``root/name/<subfolder>/img<k>.png`` with images of the given sizes."""
        root = self.path(name)
        for sub, sizes in layout.items():
            (root / sub).mkdir(parents=True, exist_ok=True)
            for k, size in enumerate(sizes):
                Image.fromarray(np.zeros(size, np.uint8)).save(root / sub / f"img{k}.png")
        return root


@pytest.fixture(scope="module")
def ctx(tmp_path_factory) -> Ctx:
    return Ctx(tmp_path_factory.mktemp("bad_inputs"))


GOOD = " ".join(["7"] * 2304)


def _pixels(last: str) -> str:
    return " ".join(["7"] * 2303 + [last])


# -- the table ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    area: str
    name: str
    call: Callable[[Ctx], object]
    error: type[BaseException]
    names: tuple[str, ...]  # fragments naming the input
    expects: tuple[str, ...]  # fragments saying what was expected


def _fer_folder_numbered(c: Ctx) -> object:
    root = c.folder("numbered", {"0": [(48, 48)], "3": [(48, 48)]})
    return load_fer2013(root)


def _fer_folder_nested(c: Ctx) -> object:
    root = c.path("fer_nested")
    c.folder("fer_nested/fer2013/train", {"happy": [(48, 48)]})
    c.folder("fer_nested/fer2013/test", {"happy": [(48, 48)]})
    return load_fer2013(root)


def _ckplus_nested(c: Ctx) -> object:
    c.folder("ck_nested/CK+48", {"anger": [(48, 48)], "happy": [(48, 48)]})
    return load_ckplus48(c.path("ck_nested"))


def _flat_folder(c: Ctx) -> object:
    root = c.path("flat")
    root.mkdir(exist_ok=True)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / "a.png")
    return load_image_folder(root)


def _corrupt_image(c: Ctx) -> object:
    root = c.folder("corrupt", {"happy": [(8, 8)]})
    (root / "happy" / "broken.png").write_bytes(b"\x89PNG but not really")
    return load_image_folder(root)


def _ck_names(c: Ctx) -> object:
    return load_ckplus48(c.folder("ck_names", {"anger": [(48, 48)]}))


def _deep_copy_with(c: Ctx, **params):
    est = copy.deepcopy(c.deep)
    return est.set_params(**params)


def _weights(c: Ctx, file: str, **extra):
    return MobileNetV3Features("small", **{**c.deep_tiny, "weights": file, **extra}).fit(c.u8)


CASES = [
    # ---------------------------------------------------------------- loaders
    Case(
        "loaders",
        "csv-non-numeric-pixel",
        lambda c: load_fer2013(
            c.csv("abc.csv", [f"0,{GOOD},Training", f"1,{_pixels('abc')},Training"])
        ),
        ValueError,
        ("abc.csv' line 3", "column 'pixels'", "pixel 2304", "'abc'"),
        ("integers 0..255",),
    ),
    Case(
        "loaders",
        "csv-pixel-70000",
        lambda c: load_fer2013(
            c.csv("big.csv", [f"0,{GOOD},Training", f"1,{_pixels('70000')},Training"])
        ),
        ValueError,
        ("big.csv' line 3", "column 'pixels'", "is 70000"),
        ("integers 0..255",),
    ),
    Case(
        "loaders",
        "csv-negative-pixel",
        lambda c: load_fer2013(c.csv("neg.csv", [f"0,{_pixels('-3')},Training"])),
        ValueError,
        ("neg.csv' line 2", "is -3"),
        ("integers 0..255",),
    ),
    Case(
        "loaders",
        "csv-short-row",
        lambda c: load_fer2013(c.csv("short.csv", ["0,1 2 3,Training"])),
        ValueError,
        ("short.csv' line 2", "column 'pixels'", "3 pixels"),
        ("expected 2304 (48x48)",),
    ),
    Case(
        "loaders",
        "csv-label-names-instead-of-codes",
        lambda c: load_fer2013(c.csv("names.csv", [f"happy,{GOOD},Training"])),
        ValueError,
        ("names.csv' line 2", "column 'emotion'", "'happy'"),
        ("integer 0..6", "3=happy"),
    ),
    Case(
        "loaders",
        "csv-code-out-of-range",
        lambda c: load_fer2013(c.csv("code.csv", [f"0,{GOOD},Training", f"9,{GOOD},Training"])),
        ValueError,
        ("code.csv' line 3", "column 'emotion'", "emotion code 9"),
        ("outside 0..6",),
    ),
    Case(
        "loaders",
        "csv-unknown-usage",
        lambda c: load_fer2013(c.csv("usage.csv", [f"0,{GOOD},Train"])),
        ValueError,
        ("usage.csv' line 2", "column 'Usage'", "'Train'"),
        ("expected one of ['Training', 'PublicTest', 'PrivateTest']",),
    ),
    Case(
        "loaders",
        "csv-kaggle-train-without-usage",
        lambda c: load_fer2013(c.csv("train.csv", [f"0,{GOOD}"], header="emotion,pixels")),
        ValueError,
        ("train.csv'", "lacks columns ['usage']"),
        ("expected emotion, pixels and Usage", "fer2013.csv"),
    ),
    Case(
        "loaders",
        "csv-semicolons",
        lambda c: load_fer2013(
            c.csv("semi.csv", [f"0;{GOOD};Training"], header="emotion;pixels;Usage")
        ),
        ValueError,
        ("semi.csv'", "lacks columns"),
        ("expected emotion, pixels and Usage", "separated by commas"),
    ),
    Case(
        "loaders",
        "csv-missing-field",
        lambda c: load_fer2013(c.csv("fields.csv", [f"0,{GOOD},Training", "3,Training"])),
        ValueError,
        ("fields.csv' line 3", "2 fields"),
        ("the header has 3 (emotion, pixels, Usage)",),
    ),
    Case(
        "loaders",
        "csv-empty",
        lambda c: load_fer2013(c.csv("empty.csv", [], header="")),
        ValueError,
        ("empty.csv'", "is empty"),
        ("expected a header emotion,pixels,Usage",),
    ),
    Case(
        "loaders",
        "csv-header-only",
        lambda c: load_fer2013(c.csv("header.csv", [])),
        ValueError,
        ("header.csv'", "no rows"),
        ("expected one row per image",),
    ),
    Case(
        "loaders",
        "csv-binary",
        lambda c: (
            c.path("packed.csv").write_bytes(b"\x1f\x8b\x08\x00\xff\xfe\x00"),
            load_fer2013(c.path("packed.csv")),
        ),
        ValueError,
        ("packed.csv'", "not a UTF-8 text file"),
        ("expected the FER2013 CSV",),
    ),
    Case(
        "loaders",
        "fer2013-zip-not-extracted",
        lambda c: (c.path("fer2013.zip").write_bytes(b"PK"), load_fer2013(c.path("fer2013.zip"))),
        ValueError,
        ("fer2013.zip'", "compressed archive"),
        ("extract it",),
    ),
    Case(
        "loaders",
        "fer2013-image-instead-of-data-set",
        lambda c: (
            Image.fromarray(c.u8[0]).save(c.path("face.png")),
            load_fer2013(c.path("face.png")),
        ),
        ValueError,
        ("face.png'", "is an image file"),
        ("expected the FER2013 CSV or the folder",),
    ),
    Case(
        "loaders",
        "fer2013-missing-path",
        lambda c: load_fer2013(c.path("nowhere")),
        FileNotFoundError,
        ("FER2013 path", "nowhere'"),
        ("does not exist",),
    ),
    Case(
        "loaders",
        "fer2013-numbered-class-folders",
        _fer_folder_numbered,
        ValueError,
        ("numbered'", "subfolder '0'"),
        ("expected ['angry'", "0=angry"),
    ),
    Case(
        "loaders",
        "fer2013-one-folder-too-high",
        _fer_folder_nested,
        ValueError,
        ("fer_nested'", "subfolder 'fer2013'"),
        ("split folders ['test', 'train']", "pass '"),
    ),
    Case(
        "loaders",
        "ckplus-one-folder-too-high",
        _ckplus_nested,
        ValueError,
        ("ck_nested'", "'CK+48'"),
        ("if those are the classes, pass",),
    ),
    Case(
        "loaders",
        "folder-without-class-subfolders",
        _flat_folder,
        ValueError,
        ("flat'", "no class subfolders"),
        ("one subfolder of images per class",),
    ),
    Case(
        "loaders",
        "folder-mixed-image-sizes",
        lambda c: load_image_folder(c.folder("mixed", {"happy": [(8, 8), (9, 8)]})),
        ValueError,
        ("img1.png'", "(9, 8)", "img0.png'"),
        ("must share a size",),
    ),
    Case(
        "loaders",
        "folder-corrupt-image",
        _corrupt_image,
        ImageReadError,
        ("broken.png'",),
        ("Expected a readable image",),
    ),
    Case(
        "loaders",
        "ckplus-file-names-without-subject",
        _ck_names,
        ValueError,
        ("'img0.png'", "group_pattern"),
        ("every file needs a group id",),
    ),
    # ---------------------------------------------------------------- image arrays
    Case(
        "images",
        "deep-float-on-0-255",
        lambda c: c.deep.transform(c.u8.astype(np.float32)),
        ValueError,
        ("X holds float pixels on [0, 255]",),
        ("must be on [0, 1]", "divide by 255", "float_range=(0, 255)"),
    ),
    Case(
        "images",
        "cnn-float-on-0-255",
        lambda c: c.cnn.transform(c.faces.astype(np.float64)),
        ValueError,
        ("X holds float pixels on [0, 230]",),
        ("must be on [0, 1]", "X.astype(np.uint8)"),
    ),
    Case(
        "images",
        "hog-float-on-minus-1-1",
        lambda c: c.hog.transform(c.u8 / 127.5 - 1.0),
        ValueError,
        ("X holds float pixels on [-1, 1]",),
        ("must be on [0, 1]", "float_range=(low, high)"),
    ),
    Case(
        "images",
        "lbp-float-beyond-declared-range",
        lambda c: LBPFeatures(float_range=(0, 255)).fit(c.u8 * 4.0),
        ValueError,
        ("X holds float pixels on [0, 1020]", "outside float_range=(0, 255)"),
        ("set float_range to their range",),
    ),
    Case(
        "images",
        "float-range-reversed",
        lambda c: HOGFeatures(float_range=(1, 0)).fit(c.u8),
        ValueError,
        ("float_range=(1, 0)",),
        ("low < high",),
    ),
    Case(
        "images",
        "deep-native-1x1-images",
        lambda c: MobileNetV3Features("small", **{**c.deep_tiny, "input_size": None}).fit(
            np.zeros((2, 1, 1), np.uint8)
        ),
        ValueError,
        ("X holds images of size 1x1", "input_size=None"),
        ("at least 32x32 pixels", "set input_size"),
    ),
    Case(
        "images",
        "deep-input-size-below-stride",
        lambda c: MobileNetV3Features("small", **{**c.deep_tiny, "input_size": 8}).fit(c.u8),
        ValueError,
        ("input_size=8",),
        ("at least 32x32 pixels", "'stage5' is 1/32"),
    ),
    Case(
        "images",
        "cnn-images-below-its-trunk",
        lambda c: CNNFeatures("cnnlstm_model3", epochs=1).fit(c.faces[:, :12, :12], c.face_labels),
        ValueError,
        ("input size 12x12",),
        ("needs at least 22x22 pixels",),
    ),
    Case(
        "images",
        "fernet-backbone-images-below-stride",
        lambda c: FERNetClassifier("mobilenet_v3_small", weights=None, epochs=1).fit(
            c.faces[:, :16, :16], c.face_labels
        ),
        ValueError,
        ("the images' own size gives 16x16",),
        ("at least 32x32 pixels", "set input_size"),
    ),
    Case(
        "images",
        "hog-object-array-of-strings",
        lambda c: HOGFeatures().fit(np.full((2, 16, 16), "a", dtype=object)),
        TypeError,
        ("X has dtype object", "a str ('a')", "index (0, 0, 0)"),
        ("real number", "integer pixels on [0, 255]"),
    ),
    Case(
        "images",
        "unicode-string-array",
        lambda c: HOGFeatures().fit(np.full((2, 16, 16), "7")),
        TypeError,
        ("X has dtype <U1", "'7'"),
        ("integer pixels on [0, 255] or float pixels on [0, 1]",),
    ),
    Case(
        "images",
        "int-pixels-beyond-255",
        lambda c: HOGFeatures().fit(c.u8.astype(np.int32) * 4),
        ValueError,
        ("X has integer pixels on [0, 1020]",),
        ("expected values on [0, 255]",),
    ),
    Case(
        "images",
        "channels-first",
        lambda c: c.hog.transform(np.zeros((2, 3, 32, 32), np.uint8)),
        ValueError,
        ("X has shape (2, 3, 32, 32)",),
        ("channels last", "transpose(0, 2, 3, 1)"),
    ),
    Case(
        "images",
        "nan-pixels",
        lambda c: c.deep.transform(np.full((2, 32, 32), np.nan, np.float32)),
        ValueError,
        ("X contains NaN",),
        ("expected finite pixels",),
    ),
    Case(
        "images",
        "flat-rows-not-square",
        lambda c: HOGFeatures().fit(np.zeros((2, 10), np.uint8)),
        ValueError,
        ("X is a flat 2-D array of shape (2, 10)",),
        ("pass image_shape=(H, W)",),
    ),
    Case(
        "images",
        "image-shape-does-not-fit",
        lambda c: HOGFeatures(image_shape=(3, 3)).fit(np.zeros((2, 10), np.uint8)),
        ValueError,
        ("image_shape=(3, 3)", "shape (2, 10)"),
        ("H*W*C == 10",),
    ),
    Case(
        "images",
        "one-path-instead-of-a-list",
        lambda c: as_image_source(str(c.path("face.png"))),
        TypeError,
        ("X is a single path",),
        ("expected a sequence of image paths",),
    ),
    Case(
        "images",
        "missing-image-files",
        lambda c: c.hog.transform([str(c.path("gone1.png")), str(c.path("gone2.png"))]),
        FileNotFoundError,
        ("X: 2 of 2 image paths", "gone1.png"),
        ("do not exist",),
    ),
    # ---------------------------------------------------------------- labels
    Case(
        "labels",
        "one-integer-class",
        lambda c: CNNFeatures("cnnlstm_model1", epochs=1).fit(c.faces, np.full(8, np.int64(9))),
        ValueError,
        ("1 class (9)",),
        ("at least 2 classes",),
    ),
    Case(
        "labels",
        "one-string-class",
        lambda c: FERNetClassifier("cnnlstm_model1", epochs=1).fit(
            c.faces, np.array(["happy"] * 8)
        ),
        ValueError,
        ("1 class ('happy')",),
        ("at least 2 classes",),
    ),
    Case(
        "labels",
        "eval-set-unseen-label",
        lambda c: CNNFeatures("cnnlstm_model1", epochs=1).fit(
            c.faces, c.face_labels, eval_set=(c.faces[:2], np.array(["happy", "angry"]))
        ),
        ValueError,
        ("eval_set y holds label 'angry'",),
        ("training classes ['happy', 'sad']",),
    ),
    Case(
        "labels",
        "labels-and-images-of-different-length",
        lambda c: CNNFeatures("cnnlstm_model1", epochs=1).fit(c.faces, c.face_labels[:5]),
        ValueError,
        ("X has 8 images", "y has 5 labels"),
        ("labels",),
    ),
    Case(
        "labels",
        "dataset-label-outside-classes",
        lambda c: FERDataset(images=c.u8[:2], labels=np.array(["joy", "sad"]), classes=("sad",)),
        ValueError,
        ("labels ['joy']",),
        ("not among the classes ['sad']",),
    ),
    Case(
        "labels",
        "class-weight-unknown-label",
        lambda c: WNXGBClassifier(n_estimators=2, class_weight={np.str_("joy"): 2.0}).fit(
            np.zeros((4, 2)), np.array(["sad", "happy", "sad", "happy"])
        ),
        ValueError,
        ("class_weight has labels ['joy']",),
        ("classes of y ['happy', 'sad']",),
    ),
    # ---------------------------------------------------------------- weights
    Case(
        "weights",
        "file-of-another-architecture",
        lambda c: _weights(c, c.weights["large"]),
        WeightsMismatchError,
        ("large.pt'", "does not fit mobilenet_v3_small"),
        ("fits torchvision's mobilenet_v3_large", "Expected a state_dict of mobilenet_v3_small"),
    ),
    Case(
        "weights",
        "file-with-another-head",
        lambda c: _weights(c, c.weights["head7"]),
        WeightsMismatchError,
        ("head7.pt'", "classifier.3.weight: file [7, 1024], network [1000, 1024]"),
        ("only the classifier head differs", "weights_strict=False"),
    ),
    Case(
        "weights",
        "file-missing-parameters",
        lambda c: _weights(c, c.weights["partial"]),
        WeightsMismatchError,
        ("partial.pt'", "missing (e.g. ['features.12"),
        ("Expected a state_dict of mobilenet_v3_small",),
    ),
    Case(
        "weights",
        "file-sharing-nothing-loaded-loosely",
        lambda c: _weights(c, c.weights["unrelated"], weights_strict=False),
        WeightsMismatchError,
        ("unrelated.pt'", "shares no parameter"),
        ("the network has e.g.",),
    ),
    Case(
        "weights",
        "corrupt-file",
        lambda c: _weights(c, str(c.path("bad.pt"))),
        WeightsUnavailableError,
        ("bad.pt'", "not a state dict written by torch.save"),
        ("Expected a state_dict saved with torch.save(model.state_dict(), path)",),
    ),
    Case(
        "weights",
        "pickled-whole-model",
        lambda c: _weights(c, str(c.path("pickled.pt"))),
        WeightsUnavailableError,
        ("pickled.pt'", "torch.nn.modules.linear.Linear"),
        ("Expected a state_dict",),
    ),
    Case(
        "weights",
        "truncated-file",
        lambda c: _weights(c, str(c.path("truncated.pt"))),
        WeightsUnavailableError,
        ("truncated.pt'", "truncated or corrupt"),
        ("Expected a state_dict",),
    ),
    Case(
        "weights",
        "safetensors-file",
        lambda c: _weights(c, str(c.path("model.safetensors"))),
        WeightsUnavailableError,
        ("model.safetensors'", "safetensors files are not read"),
        ("convert it",),
    ),
    Case(
        "weights",
        "missing-file",
        lambda c: _weights(c, str(c.path("nowhere/weights.pt"))),
        FileNotFoundError,
        ("weights file", "weights.pt'"),
        ("does not exist",),
    ),
    Case(
        "weights",
        "unknown-weights-name",
        lambda c: _weights(c, "IMAGENET_BEST"),
        ValueError,
        ("weights='IMAGENET_BEST'",),
        ("IMAGENET1K_V1", "weights='path/to/state_dict.pt'"),
    ),
    # ---------------------------------------------------------------- the cache
    Case(
        "cache",
        "cache-path-is-a-file",
        lambda c: _deep_copy_with(c, cache=str(c.path("bad.pt"))).transform(c.u8),
        NotADirectoryError,
        ("feature cache", "bad.pt'", "is a file"),
        ("expected a folder",),
    ),
    Case(
        "cache",
        "cache-path-empty",
        lambda c: _deep_copy_with(c, cache="").transform(c.u8),
        ValueError,
        ("feature cache path is empty",),
        ("expected a folder path",),
    ),
    Case(
        "cache",
        "cache-of-another-type",
        lambda c: _deep_copy_with(c, cache=3).transform(c.u8),
        TypeError,
        ("cache must be", "got int"),
        ("a folder path or a FeatureCache",),
    ),
    Case(
        "cache",
        "cache-store-of-misshaped-values",
        lambda c: FeatureCache(c.path("store")).store({"k": 1}, ["a" * 32], np.zeros(3)),
        ValueError,
        ("values must be 2-D", "got (3,) for 1 hashes"),
        ("one row per hash",),
    ),
    # ---------------------------------------------------------------- estimators
    Case(
        "estimators",
        "lstm-other-timesteps",
        lambda c: c.lstm.predict(np.zeros((3, 5, 4), np.float32)),
        ValueError,
        ("X holds sequences of 5 timesteps of width 4",),
        ("fitted on 6 timesteps of width 4", "expected X of shape (n, 6, 4)"),
    ),
    Case(
        "estimators",
        "lstm-flat-rows-for-3d-model",
        lambda c: c.lstm.predict_proba(np.zeros((3, 24), np.float32)),
        ValueError,
        ("X is 2-D with 24 columns",),
        ("expected X of shape (n, 6, 4)",),
    ),
    Case(
        "estimators",
        "transform-before-fit",
        lambda c: HOGFeatures().transform(c.u8),
        NotFittedError,
        ("This HOGFeatures instance is not fitted yet",),
        ("Call 'fit'",),
    ),
    Case(
        "estimators",
        "hog-images-of-another-size",
        lambda c: c.hog.transform(c.u8[:, :24]),
        ValueError,
        ("X holds images of shape (24, 32)",),
        ("fitted on images of shape (32, 32)",),
    ),
    Case(
        "estimators",
        "deep-flat-rows-of-another-width",
        lambda c: (
            MobileNetV3Features("small", **c.deep_tiny)
            .fit(c.u8.reshape(6, -1))
            .transform(np.zeros((2, 100), np.uint8))
        ),
        ValueError,
        ("X has 100 features",),
        ("expecting 1024 features", "images of the shape seen in fit"),
    ),
    Case(
        "estimators",
        "cnn-native-size-other-images",
        lambda c: c.cnn.transform(np.zeros((2, 30, 30), np.uint8)),
        ValueError,
        ("X holds images of size (30, 30)",),
        ("fitted on (24, 24)", "set input_size"),
    ),
    Case(
        "estimators",
        "wnxgb-predict-other-width",
        lambda c: c.wnxgb.predict(np.zeros((2, 5))),
        ValueError,
        ("X has 5 features",),
        ("expecting 3 features",),
    ),
    Case(
        "estimators",
        "negative-sample-weight",
        lambda c: CNNFeatures("cnnlstm_model1", epochs=1).fit(
            c.faces, c.face_labels, sample_weight=-np.ones(8)
        ),
        ValueError,
        ("sample_weight",),
        ("Negative values",),
    ),
]


def test_the_table_covers_every_area_with_40_distinct_inputs() -> None:
    assert len(CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)
    areas = {c.area for c in CASES}
    assert areas == {"loaders", "images", "labels", "weights", "cache", "estimators"}


@pytest.mark.parametrize("case", CASES, ids=[f"{c.area}:{c.name}" for c in CASES])
def test_bad_input_is_refused_naming_the_input_and_the_expectation(ctx: Ctx, case: Case) -> None:
    with pytest.raises(case.error) as info:
        case.call(ctx)
    message = str(info.value)
    for fragment in (*case.names, *case.expects):
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert not NUMPY_REPR.search(message), message
    assert "weights_only" not in message, message


# -- what issue 13 saw pass silently, one test each ---------------------------------------
def test_float_images_on_the_8bit_scale_are_refused_unless_declared(ctx: Ctx) -> None:
    """Float pixels on [0, 255] gave deep features up to 1,500 off the uint8 ones, silently."""
    as_float = ctx.u8.astype(np.float32)
    with pytest.raises(ValueError, match=r"float pixels on \[0, 255\], but float images must"):
        ctx.deep.transform(as_float)
    with pytest.raises(ValueError, match=r"float pixels on \[0, 230\], but float images must"):
        ctx.cnn.transform(ctx.faces.astype(np.float32))
    # declared, the 8-bit scale gives the uint8 features; [0, 1] floats are unchanged
    declared = _deep_copy_with(ctx, float_range=(0, 255))
    ref = ctx.deep.transform(ctx.u8)
    np.testing.assert_allclose(declared.transform(as_float), ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ctx.deep.transform(as_float / 255), ref, rtol=1e-4, atol=1e-5)
    cnn = copy.deepcopy(ctx.cnn).set_params(float_range=(0, 255))
    np.testing.assert_allclose(
        cnn.transform(ctx.faces.astype(np.float32)),
        ctx.cnn.transform(ctx.faces),
        rtol=1e-4,
        atol=1e-5,
    )


def test_deep_extractor_refuses_images_smaller_than_its_deepest_tap(ctx: Ctx) -> None:
    """1x1 images gave features at the native size; the floor is the deepest tap's stride."""
    native = {**ctx.deep_tiny, "input_size": None}
    with pytest.raises(ValueError, match="size 1x1, too small .* at least 32x32 pixels"):
        MobileNetV3Features("small", **native).fit(np.zeros((2, 1, 1), np.uint8))
    est = MobileNetV3Features("small", **native).fit(ctx.u8)  # 32x32: the floor itself
    with pytest.raises(ValueError, match="size 16x16, too small"):
        est.transform(ctx.u8[:, :16, :16])
    # an early tap has a lower floor: stage2 is 1/4 of the input
    early = MobileNetV3Features("small", **native, layers=["stage2"]).fit(ctx.u8[:, :4, :4])
    assert early.transform(ctx.u8[:, :4, :4]).shape == (6, 16)


def test_weights_of_another_architecture_are_refused_or_loaded_on_purpose(ctx: Ctx) -> None:
    """A resnet34 file given for resnet18 shares every resnet18 key; it loaded silently."""
    from hybridfer.extractors import TorchvisionFeatures

    path = ctx.path("resnet34.pt")
    state = torchvision.models.resnet34(weights=None).state_dict()
    torch.save(state, path)
    kw = {**ctx.deep_tiny, "weights": str(path)}
    with pytest.raises(WeightsMismatchError) as info:
        TorchvisionFeatures("resnet18", **kw).fit(ctx.u8)
    message = str(info.value)
    assert "does not fit resnet18: 96 unexpected (e.g. ['layer1.2.conv1.weight'" in message
    assert "the file fits torchvision's resnet34" in message
    with pytest.warns(UserWarning, match=r"loaded 122 of 122 entries of resnet18 and skipped 96"):
        loose = TorchvisionFeatures("resnet18", **kw, weights_strict=False).fit(ctx.u8)
    conv1 = dict(loose.model_.named_parameters())["conv1.weight"]
    torch.testing.assert_close(conv1, state["conv1.weight"])


def test_weights_errors_never_advise_loading_unsafely(ctx: Ctx) -> None:
    """torch's message for a bad file advises weights_only=False, unsafe for untrusted files."""
    for name in ("bad.pt", "pickled.pt", "truncated.pt"):
        with pytest.raises(WeightsUnavailableError) as info:
            _weights(ctx, str(ctx.path(name)))
        assert "weights_only" not in str(info.value) and "trust" not in str(info.value)
        assert info.value.__cause__ is None  # torch's advice is not chained either


def test_messages_print_plain_values(ctx: Ctx) -> None:
    """Labels printed as np.str_('happy') and np.int64(9)."""
    with pytest.raises(ValueError, match=r"got 1 class \(9\)$"):
        CNNFeatures(epochs=1).fit(ctx.faces, np.full(8, 9))
    with pytest.raises(ValueError, match=r"got 1 class \('happy'\)$"):
        CNNFeatures(epochs=1).fit(ctx.faces, np.array(["happy"] * 8))
    with pytest.raises(ValueError, match=r"^labels \['joy'\] are not among"):
        FERDataset(images=ctx.u8[:1], labels=np.array(["joy"]), classes=("sad",))
    from hybridfer._messages import plain, plain_repr

    assert plain({np.str_("a"): [np.int64(9), (np.float32(0.5),)]}) == {"a": [9, (0.5,)]}
    assert plain_repr(np.arange(2)) == "[0, 1]"


def test_estimators_pickled_before_new_parameters_still_work(ctx: Ctx) -> None:
    """A pipeline saved before float_range/deterministic/weights_strict existed unpickles
    with their defaults, which keep its old behaviour."""
    import pickle

    for est in (ctx.hog, ctx.deep, ctx.cnn, ctx.lstm):
        old = copy.deepcopy(est)
        for name in ("float_range", "deterministic", "weights_strict"):
            old.__dict__.pop(name, None)
        again = pickle.loads(pickle.dumps(old))
        params = again.get_params()
        assert params.get("deterministic", False) is False
        assert params.get("float_range", (0.0, 1.0)) == (0.0, 1.0)
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(ctx.deep)).transform(ctx.u8), ctx.deep.transform(ctx.u8)
    )

"""The steps the paper recipes share (hybridfer.recipes.paper) and the tiny data-set folders they
are tested on (hybridfer.data.synthetic_folders), without training anything."""

from __future__ import annotations

import numpy as np
import pytest

from hybridfer.data import load_ckplus48, load_fer2013, random_split_811, subject_kfold
from hybridfer.data.synthetic_folders import write_ckplus48_folders, write_fer2013_folders
from hybridfer.evaluation import leakage_audit
from hybridfer.recipes import RecipeError, RecipeResult
from hybridfer.recipes.paper import (
    chosen_protocols,
    find_data,
    load_ckplus,
    load_fer2013_subset,
    resolve_weights,
    scale_settings,
    side_by_side,
    training_parts,
    validation_part,
)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_fer2013_folders(
        root / "fer2013",
        counts={"Training": (10,) * 7, "PublicTest": (3,) * 7, "PrivateTest": (2,) * 7},
        duplicate_fraction=0.3,
    )
    write_ckplus48_folders(root / "ckplus48", n_subjects=9)
    return root


def test_synthetic_folders_have_the_real_layouts_and_their_duplicates(folders):
    fer = load_fer2013(folders / "fer2013")
    assert len(fer) == 7 * (10 + 3 + 2) and fer.images.shape[1:] == (48, 48)
    assert sorted(set(fer.usage.tolist())) == ["PrivateTest", "PublicTest", "Training"]
    train = fer.subset(fer.usage == "Training")
    test = fer.subset(fer.usage != "Training")
    within = leakage_audit(train, test, check_within=True)
    assert (within.within_train["kind"] == "exact").sum() > 0  # duplicates inside Training
    assert within.n_exact == 0 and within.n_near == 0  # none across usages
    ck = load_ckplus48(folders / "ckplus48")
    assert len(ck) == 9 * 3 * 3 and len(set(ck.groups.tolist())) == 9
    assert set(ck.labels.tolist()) == set(ck.classes)  # every class has sequences
    # frames of one sequence are near copies; different subjects are not
    first = ck.subset(np.flatnonzero(ck.groups == ck.groups[0]))
    others = ck.subset(np.flatnonzero(ck.groups != ck.groups[0]))
    assert leakage_audit(first, others, check_within=False).n_near == 0
    assert len(leakage_audit(first, first.subset([0]), check_within=False).pairs) > 1
    with pytest.raises(ValueError, match="duplicate_fraction"):
        write_fer2013_folders(folders / "x", duplicate_fraction=1.0)
    with pytest.raises(ValueError, match="one per class"):
        write_fer2013_folders(folders / "y", counts={"Training": (1, 2)})


def test_data_options_and_settings(folders, tmp_path):
    assert chosen_protocols("both") == ["paper", "honest"]
    assert chosen_protocols("honest") == ["honest"]
    with pytest.raises(RecipeError, match="protocol must be 'both', 'paper' or 'honest'"):
        chosen_protocols("leaky")
    assert find_data(folders, "fer2013", "FER2013") == folders / "fer2013"
    assert find_data(folders / "fer2013", "fer2013", "FER2013") == folders / "fer2013"
    with pytest.raises(RecipeError, match="does not exist; expected FER2013"):
        find_data(tmp_path / "none", "fer2013", "FER2013")
    settings = {"smoke": {"a": 1, "b": 2}}
    assert scale_settings(settings, "smoke", a=None, b=5) == {"a": 1, "b": 5}

    ds = load_fer2013_subset(folders, max_images=35, need=("Training",))
    assert len(ds) == 35 and ds.images is not None
    assert set(ds.usage.tolist()) == {"Training", "PublicTest", "PrivateTest"}  # stratified
    with pytest.raises(RecipeError, match="fraction must be in"):
        load_fer2013_subset(folders, fraction=1.5)
    with pytest.raises(RecipeError, match="holds the usages"):
        load_fer2013_subset(folders / "fer2013" / "test", need=("Training",))
    ck = load_ckplus(folders, max_subjects=4)
    assert len(set(ck.groups.tolist())) == 4
    with pytest.raises(RecipeError, match="no CK\\+48 frames"):
        load_ckplus(folders / "fer2013" / "train")


def test_validation_parts_grouped_or_random(folders):
    ck = load_ckplus(folders)
    train, val = validation_part(ck, 1 / 3, grouped=True)
    assert not set(train.groups.tolist()) & set(val.groups.tolist())
    assert len(train) + len(val) == len(ck)
    train, val = validation_part(ck, 1 / 3, grouped=False, random_state=0)
    assert set(train.groups.tolist()) & set(val.groups.tolist())  # random: subjects shared
    with pytest.raises(RecipeError, match="at least 2"):
        validation_part(ck.subset(ck.groups == ck.groups[0]), 0.2, grouped=True)
    # a protocol's own validation part is kept; validation classes unseen in training dropped
    split = random_split_811.split(ck, random_state=0)
    train, val = training_parts(split, 0.5, grouped=True)
    assert val is not None and set(val.labels.tolist()) <= set(train.labels.tolist())
    fold = subject_kfold.replace(n_splits=3).split(ck, random_state=0)[0]
    train, val = training_parts(fold, 1 / 9, grouped=True)
    assert not set(train.groups.tolist()) & set(val.groups.tolist())
    assert not set(val.groups.tolist()) & set(fold.test.groups.tolist())


def test_resolve_weights_says_which(folders):
    assert resolve_weights("resnet50", "auto", "smoke") == (
        None,
        "resnet50: random initialisation (smoke scale)",
    )
    assert resolve_weights("resnet50", None, "full")[0] is None
    weights, note = resolve_weights("resnet50", "IMAGENET1K_V2", "cpu")
    assert weights == "IMAGENET1K_V2" and "IMAGENET1K_V2" in note


def test_side_by_side_table(tmp_path):
    result = RecipeResult(
        recipe="r",
        version="1",
        scale="smoke",
        protocol="p",
        machine="m",
        rows=[
            {
                "protocol": "paper",
                "claimed acc": 0.99,
                "acc": 0.5,
                "macro-F1": 0.4,
                "test with exact copy in train": 3,
                "test with near copy only": 1,
            },
            {
                "protocol": "honest",
                "claimed acc": 0.99,
                "acc": 0.25,
                "macro-F1": 0.2,
                "test with exact copy in train": 0,
                "test with near copy only": 0,
            },
        ],
        columns=["protocol"],
        workdir=tmp_path,
    )
    lines = side_by_side([result]).splitlines()
    assert lines[0].startswith("| recipe | scale | protocol | claimed acc | acc | macro-F1 |")
    assert lines[2] == "| r | smoke | paper | 0.9900 | 0.5000 | 0.4000 | 3 | 1 |"
    assert lines[3] == "| r | smoke | honest | 0.9900 | 0.2500 | 0.2000 | 0 | 0 |"

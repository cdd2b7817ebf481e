"""Label maps across data sets, cross-dataset splits and their scores, and the data set
registry's layout detection."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from hybridfer.data import (
    CANONICAL_CLASSES,
    CKPLUS_CLASSES,
    DATASETS,
    FER2013_CLASSES,
    LABEL_MAPS,
    FERDataset,
    canonical_map,
    cross_dataset,
    detect_dataset,
    label_map_table,
    load_ckplus48,
    load_dataset,
    load_fer2013,
    map_labels,
)
from hybridfer.data.synthetic_folders import write_ckplus48_folders, write_fer2013_folders
from hybridfer.evaluation import cross_dataset_report


def _ds(name, classes, labels, soft=None):
    n = len(labels)
    return FERDataset(
        images=np.zeros((n, 4, 4), np.uint8),
        labels=np.asarray(labels),
        classes=tuple(classes),
        name=name,
        soft_labels=soft,
    )


def test_every_registered_map_reaches_canonical_classes_once():
    for name, table in LABEL_MAPS.items():
        assert set(table.values()) <= set(CANONICAL_CLASSES), name
        assert len(set(table.values())) == len(table), f"{name} maps two classes onto one"
    assert CANONICAL_CLASSES == (*FER2013_CLASSES, "contempt")
    assert tuple(LABEL_MAPS["ckplus48"]) == CKPLUS_CLASSES
    rows = label_map_table()
    assert {"dataset": "kdef", "class": "afraid", "canonical": "fear"} in rows


def test_ckplus48_to_fer2013_drops_contempt_and_says_so():
    labels = ["anger", "contempt", "contempt", "sadness", "happy", "surprise"]
    out = map_labels(_ds("ckplus48", CKPLUS_CLASSES, labels), to="fer2013")
    assert out.dataset.labels.tolist() == ["angry", "sad", "happy", "surprise"]
    assert out.dataset.classes == FER2013_CLASSES
    assert out.dropped == {"contempt": 2}
    assert out.mapping["sadness"] == "sad" and "contempt" not in out.mapping
    assert "dropped 2 contempt" in out.describe()
    assert out.dataset.name == "ckplus48->fer2013"
    # a relabelled set carries its target's classes: mapping it again is the identity
    again = map_labels(out.dataset, to="fer2013")
    assert again.dataset.labels.tolist() == out.dataset.labels.tolist() and not again.dropped


def test_merge_and_drop_are_explicit_choices():
    labels = ["anger", "contempt", "disgust"]
    ds = _ds("ckplus48", CKPLUS_CLASSES, labels)
    merged = map_labels(ds, to="fer2013", merge={"contempt": "disgust"})
    assert merged.dataset.labels.tolist() == ["angry", "disgust", "disgust"]
    assert merged.dropped == {}
    dropped = map_labels(ds, to="fer2013", drop=["disgust"])
    assert dropped.dataset.labels.tolist() == ["angry"]
    assert dropped.dropped == {"contempt": 1, "disgust": 1}
    with pytest.raises(ValueError, match="merge names \\['smile'\\]"):
        map_labels(ds, merge={"smile": "happy"})
    with pytest.raises(ValueError, match="merge targets \\['joy'\\]"):
        map_labels(ds, merge={"contempt": "joy"})
    with pytest.raises(ValueError, match="not a registered data set"):
        map_labels(ds, to="fer2031")


def test_into_another_data_sets_own_spelling_and_order():
    ds = _ds("kdef", LABEL_MAPS["kdef"], ["afraid", "surprised", "neutral"])
    out = map_labels(ds, to="rafdb")
    assert out.dataset.classes == tuple(LABEL_MAPS["rafdb"])
    assert out.dataset.labels.tolist() == ["fear", "surprise", "neutral"]
    # CK+48 has no neutral: KDEF's neutral images are dropped going there
    out = map_labels(ds, to="ckplus48")
    assert out.dataset.labels.tolist() == ["fear", "surprise"] and out.dropped == {"neutral": 1}


def test_unregistered_folders_map_by_synonyms():
    ds = _ds("my_faces", ("Happiness", "anger", "smirk"), ["Happiness", "smirk", "anger"])
    assert canonical_map(ds) == {"Happiness": "happy", "anger": "angry"}
    out = map_labels(ds, to="fer2013")
    assert out.dataset.labels.tolist() == ["happy", "angry"] and out.dropped == {"smirk": 1}


def test_soft_labels_follow_the_map_and_stay_normalised():
    classes = LABEL_MAPS[
        "ferplus"
    ]  # neutral happiness surprise sadness anger disgust fear contempt
    soft = np.array(
        [
            [0.5, 0.3, 0, 0, 0, 0, 0, 0.2],  # contempt mass leaves: 0.5/0.8, 0.3/0.8
            [0, 0, 0, 0, 0.6, 0.4, 0, 0],
        ],
        np.float32,
    )
    ds = _ds("ferplus", classes, ["neutral", "anger"], soft)
    out = map_labels(ds, to="fer2013").dataset
    assert out.soft_labels.shape == (2, 7)
    np.testing.assert_allclose(out.soft_labels.sum(axis=1), 1, atol=1e-6)
    col = {c: i for i, c in enumerate(FER2013_CLASSES)}
    assert out.soft_labels[0, col["neutral"]] == pytest.approx(0.625)
    assert out.soft_labels[0, col["happy"]] == pytest.approx(0.375)
    assert out.soft_labels[1, col["angry"]] == pytest.approx(0.6)
    merged = map_labels(ds, to="fer2013", merge={"contempt": "disgust"}).dataset
    assert merged.soft_labels[0, col["disgust"]] == pytest.approx(0.2)


def test_dataset_annotations_are_checked_and_sliced():
    ds = FERDataset(
        images=np.zeros((3, 4, 4), np.uint8),
        labels=["a", "b", "a"],
        classes=("a", "b"),
        boxes=[[0, 0, 2, 2], [1, 1, 2, 2], [0, 1, 3, 3]],
        columns={"valence": [0.1, -0.5, np.nan]},
        soft_labels=[[1, 0], [0.2, 0.8], [0.5, 0.5]],
    )
    sub = ds.subset([2, 0])
    assert sub.boxes.tolist() == [[0, 1, 3, 3], [0, 0, 2, 2]]
    assert np.isnan(sub.columns["valence"][0]) and sub.columns["valence"][1] == 0.1
    assert sub.soft_labels[0].tolist() == [0.5, 0.5]
    with pytest.raises(ValueError, match="soft_labels has shape \\(3, 3\\)"):
        FERDataset(
            images=None,
            paths=["x"] * 3,
            labels=["a"] * 3,
            classes=("a", "b"),
            soft_labels=np.ones((3, 3)) / 3,
        )
    with pytest.raises(ValueError, match="rows summing to 1"):
        FERDataset(
            images=None, paths=["x"], labels=["a"], classes=("a", "b"), soft_labels=[[0.5, 0.2]]
        )
    with pytest.raises(ValueError, match="boxes has shape"):
        FERDataset(images=None, paths=["x"], labels=["a"], classes=("a",), boxes=[[1, 2]])
    with pytest.raises(ValueError, match="column 'v' has 2 entries"):
        FERDataset(images=None, paths=["x"], labels=["a"], classes=("a",), columns={"v": [1, 2]})


@pytest.fixture(scope="module")
def synthetic_pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("cross")
    fer = load_fer2013(write_fer2013_folders(root / "fer2013"), usages="Training")
    ck = load_ckplus48(write_ckplus48_folders(root / "ckplus48", n_subjects=4))
    return fer, ck


def _flat_model():
    flat = FunctionTransformer(lambda X: np.asarray(X, np.float32).reshape(len(X), -1) / 255)
    return make_pipeline(flat, LogisticRegression(max_iter=200))


def test_cross_dataset_drops_contempt_before_any_score(synthetic_pair):
    fer, ck = synthetic_pair
    split = cross_dataset(fer, ck)
    n_contempt = int((ck.labels == "contempt").sum())
    assert n_contempt > 0
    assert len(split.test) == len(ck) - n_contempt
    assert split.dropped == {"contempt": n_contempt}
    assert split.train_only_classes == ("neutral",)
    assert "neutral" not in split.shared_classes and len(split.shared_classes) == 6
    assert (ck.labels[split.test_index] != "contempt").all()
    assert split.n_test_sharing_a_source() == 0
    assert "contempt (" in split.describe() and "absent from the test set: neutral" in (
        split.describe()
    )

    model = _flat_model().fit(fer.X, fer.y)
    rep = cross_dataset_report(model, split)
    assert rep.all_classes.n_samples == len(split.test)
    assert "contempt" not in rep.all_classes.labels
    assert "contempt" not in rep.shared_classes.labels
    # the shared reading never predicts a class the test lacks
    assert set(rep.y_pred_shared.tolist()) <= set(split.shared_classes)
    assert "neutral" in rep.all_classes.labels
    expected = np.mean(rep.y_pred == split.test.labels)
    assert rep.all_classes.accuracy == pytest.approx(expected)
    rows = rep.rows("logreg")
    assert [r["scored over"] for r in rows] == ["all classes", "shared"]
    assert rows[1]["classes"] == 6 and rows[0]["n test"] == len(split.test)
    assert "Over the shared classes" in rep.to_markdown()
    assert rep.summary()["dropped"] == {"contempt": n_contempt}


def test_cross_dataset_report_without_predict_proba_and_with_audit(synthetic_pair):
    fer, ck = synthetic_pair

    class HardOnly:
        def __init__(self):
            self.dummy = DummyClassifier(strategy="most_frequent")

        def fit(self, X, y):
            self.dummy.fit(np.zeros((len(y), 1)), y)
            self.classes_ = self.dummy.classes_
            return self

        def predict(self, X):
            return self.dummy.predict(np.zeros((len(X), 1)))

    split = cross_dataset(fer, ck)
    rep = cross_dataset_report(HardOnly().fit(fer.X, fer.y), split, audit=True)
    assert rep.shared_classes is None and rep.y_pred_shared is None
    assert (rep.y_pred == "happy").all()  # the most frequent synthetic training class
    assert rep.leakage is not None and rep.leakage.n_exact == 0


def test_cross_dataset_refuses_a_model_without_the_test_classes(synthetic_pair):
    fer, ck = synthetic_pair
    few = fer.subset(np.isin(fer.labels, ["angry", "happy"]))
    model = _flat_model().fit(few.X, few.y)
    split = cross_dataset(fer, ck)
    with pytest.raises(ValueError, match="not trained on the test classes"):
        cross_dataset_report(model, split)


def test_detect_and_load_registered_layouts(synthetic_pair, tmp_path):
    write_fer2013_folders(tmp_path / "fer")
    write_ckplus48_folders(tmp_path / "ck", n_subjects=2)
    jaffe = tmp_path / "jaffe"
    jaffe.mkdir()
    for name in ("KA.AN1.39.tiff", "KA.HA2.40.tiff", "YM.NE1.50.tiff"):
        Image.fromarray(np.full((16, 16), 90, np.uint8)).save(jaffe / name)
    (tmp_path / "csv").mkdir()
    (tmp_path / "csv" / "fer2013new.csv").write_text("Usage\n")
    assert detect_dataset(tmp_path / "fer") == "fer2013"
    assert detect_dataset(tmp_path / "ck") == "ckplus48"
    assert detect_dataset(jaffe) == "jaffe"
    assert detect_dataset(tmp_path / "csv") == "ferplus"
    assert load_dataset(f"jaffe:{jaffe}").groups.tolist() == ["KA", "KA", "YM"]
    assert load_dataset(str(tmp_path / "ck")).name == "ckplus48"
    assert load_dataset("auto", tmp_path / "fer").name == "fer2013"
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="cannot tell which data set .*empty"):
        detect_dataset(tmp_path / "empty")
    with pytest.raises(ValueError, match="unknown data set 'fer2031'"):
        load_dataset("fer2031", tmp_path / "fer")
    assert {"ferplus", "rafdb", "affectnet", "expw", "kdef", "ckplus", "jaffe"} <= set(DATASETS)
    for source in DATASETS.values():
        module, function = source.loader.split(":")
        assert module.startswith("hybridfer.data.") and function.startswith("load_")


def test_detect_the_release_layouts_by_their_marker_files(tmp_path):
    def make(*parts, file=None):
        folder = tmp_path.joinpath(*parts)
        folder.mkdir(parents=True, exist_ok=True)
        if file:
            (folder / file).write_text("")
        return folder

    make("raf", "basic", "EmoLabel", file="list_patition_label.txt")
    make("affect", "train_set", "annotations")
    make("expw", "data", "label", file="label.lst")
    make("ck", "CK+", "cohn-kanade-images", "S005")
    make("ck", "CK+", "Emotion", "S005")
    make("kdef", "KDEF", "AF01")
    assert detect_dataset(tmp_path / "raf") == "rafdb"
    assert detect_dataset(tmp_path / "raf" / "basic") == "rafdb"
    assert detect_dataset(tmp_path / "affect") == "affectnet"
    assert detect_dataset(tmp_path / "expw") == "expw"
    assert detect_dataset(tmp_path / "ck") == "ckplus"
    assert detect_dataset(tmp_path / "ck" / "CK+") == "ckplus"
    assert detect_dataset(tmp_path / "kdef") == "kdef"
    assert detect_dataset(tmp_path / "kdef" / "KDEF") == "kdef"


def test_label_maps_follow_the_loaders_class_constants():
    from hybridfer import data

    constants = {
        "fer2013": data.FER2013_CLASSES,
        "rafdb": data.RAFDB_CLASSES,
        "affectnet": data.AFFECTNET_CLASSES,
        "expw": data.EXPW_CLASSES,
        "kdef": data.KDEF_CLASSES,
        "ckplus48": data.CKPLUS_CLASSES,
        "ckplus": data.CKPLUS_FULL_CLASSES,
    }
    for name, classes in constants.items():
        assert tuple(LABEL_MAPS[name]) == tuple(classes), name


def test_leakage_audit_across_data_sets_finds_shared_and_rescaled_images(synthetic_pair):
    """Releases share images: FERPlus is FER2013 relabelled, web-crawled sets hold the same
    photos at other sizes and colours. The audit compares content, not rows or names."""
    from hybridfer.evaluation import leakage_audit

    fer, ck = synthetic_pair
    # another release holding six FER2013 images: three as they are, three as 100x100 RGB
    # JPEG-like copies (resized, colour), beside CK+48 frames that are not in FER2013
    same = fer.images[:3]
    rescaled = np.stack(
        [
            np.asarray(Image.fromarray(im).resize((100, 100)).convert("RGB"))
            for im in fer.images[3:6]
        ]
    )
    audit_same = leakage_audit(fer, same, check_within=False)
    assert audit_same.n_exact == 3
    audit_rescaled = leakage_audit(fer, rescaled, check_within=False)
    assert audit_rescaled.n_exact == 0 and audit_rescaled.n_near == 3
    audit_ck = leakage_audit(fer, ck, check_within=False)
    assert audit_ck.n_exact == 0

"""The library side of ``hybridfer predict``: the inputs object, saving with described
metadata, run_predict and its errors."""

import numpy as np
import pytest
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from hybridfer._messages import plain_json
from hybridfer.data import make_faces
from hybridfer.handcrafted import HOGFeatures
from hybridfer.predict import (
    AllImagesFailedError,
    PredictInputError,
    collect_inputs,
    load_pipeline,
    pipeline_metadata,
    run_predict,
    save_pipeline,
)


@pytest.fixture(scope="module")
def faces():
    return make_faces(n_samples=40, image_size=32, random_state=0)


@pytest.fixture(scope="module")
def model(faces):
    return Pipeline(
        [("features", HOGFeatures()), ("classifier", LogisticRegression(max_iter=200))]
    ).fit(faces.X, faces.y)


def test_batches_cover_the_files_in_order_with_their_errors(faces, tmp_path):
    for i in range(5):
        Image.fromarray(faces.images[i]).save(tmp_path / f"f{i}.png")
    (tmp_path / "f5.png").write_bytes(b"not an image")
    src = collect_inputs([tmp_path])
    assert src.columns == ["path"]
    for n_jobs in (1, 3):
        batches = list(src.batches(2, n_jobs=n_jobs))
        assert [len(b.names) for b in batches] == [2, 2, 2]
        assert [n for b in batches for n in b.names] == src.paths
        assert [c for b in batches for c in b.cells] == [[p] for p in src.paths]
        errors = [e for b in batches for _, e in b.decoded]
        assert errors[:5] == [None] * 5 and errors[5]
        assert all(b.true_labels is None for b in batches)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        next(src.batches(0))


def test_save_pipeline_describes_the_model_when_given_metadata_keywords(faces, model, tmp_path):
    path = save_pipeline(
        model, tmp_path / "p.joblib", X=faces.X, y=faces.y, data_name="faces", label="hog"
    )
    _, meta = load_pipeline(path)
    expected = pipeline_metadata(model, faces.X, faces.y, data_name="faces", label="hog")
    meta.pop("saved"), expected.pop("saved")
    assert meta == expected
    with pytest.raises(TypeError, match="not both"):
        save_pipeline(model, tmp_path / "q.joblib", {"a": 1}, label="hog")


def test_run_predict_errors(faces, model, tmp_path, capsys):
    path = save_pipeline(model, tmp_path / "p.joblib", X=faces.X, y=faces.y)
    with pytest.raises(PredictInputError, match="predict needs INPUTS"):
        run_predict(path)
    with pytest.raises(PredictInputError, match="is a folder; expected the CSV file"):
        run_predict(path, [tmp_path], output=tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.png").write_bytes(b"junk")
    with pytest.raises(AllImagesFailedError, match="the image could not be read"):
        run_predict(path, [bad], output=tmp_path / "out.csv", progress=False)
    assert "predicted 0 of 1 images" in capsys.readouterr().out


def test_plain_json():
    value = {1: (np.int64(2), {np.str_("a"), "b"}), "p": [np.array([1.5])]}
    assert plain_json(value) == {"1": [2, ["a", "b"]], "p": [[1.5]]}


def test_what_a_frozen_extractor_expects_is_read_through_it(faces, model):
    from sklearn.frozen import FrozenEstimator

    from hybridfer.predict import inspect_pipeline

    frozen = Pipeline(
        [
            ("features", FrozenEstimator(model.named_steps["features"])),
            ("classifier", LogisticRegression(max_iter=200)),
        ]
    ).fit(faces.X, faces.y)
    plain, through = inspect_pipeline(model), inspect_pipeline(frozen)
    for key in ("shape", "resizes", "color", "color_known"):
        assert through[key] == plain[key], key
    assert through["shape"] == [32, 32] and through["color"] == "gray"
    assert through["steps"] == "FrozenEstimator(HOGFeatures) -> LogisticRegression"

"""Loading FER data: image folders, FER2013, CK+48, JAFFE, synthetic faces and scenes, honest
splits, and named evaluation protocols (honest and the papers' leaky ones)."""

from hybridfer.data.ckplus import CKPLUS_CLASSES, load_ckplus48
from hybridfer.data.dataset import FERDataset, is_dataset
from hybridfer.data.fer2013 import FER2013_CLASSES, FER2013_USAGES, load_fer2013
from hybridfer.data.folders import list_image_folder, load_image_folder, parse_groups
from hybridfer.data.jaffe import JAFFE_CODES, load_jaffe
from hybridfer.data.protocols import (
    PROTOCOLS,
    OfficialSplit,
    OversampleThenSplit,
    Protocol,
    ProtocolSplit,
    RandomSplit,
    SubjectKFold,
    get_protocol,
    official_fer2013,
    oversample_indices,
    oversample_then_split,
    random_split,
    random_split_91,
    random_split_811,
    subject_kfold,
)
from hybridfer.data.scenes import FaceScenes, make_face_scenes, scene_backgrounds
from hybridfer.data.sequences import (
    FrameWindows,
    PerFrame,
    clips_from_paths,
    frames_from_dataset,
    make_frame_windows,
)
from hybridfer.data.splits import (
    check_disjoint_groups,
    holdout_split,
    make_cv,
    stratified_holdout,
    stratified_subsample,
    usage_split,
)
from hybridfer.data.synthetic import make_faces

__all__ = [
    "CKPLUS_CLASSES",
    "JAFFE_CODES",
    "FaceScenes",
    "PROTOCOLS",
    "OfficialSplit",
    "OversampleThenSplit",
    "Protocol",
    "ProtocolSplit",
    "RandomSplit",
    "SubjectKFold",
    "get_protocol",
    "official_fer2013",
    "oversample_indices",
    "oversample_then_split",
    "random_split",
    "random_split_811",
    "random_split_91",
    "subject_kfold",
    "FER2013_CLASSES",
    "FER2013_USAGES",
    "FERDataset",
    "FrameWindows",
    "PerFrame",
    "check_disjoint_groups",
    "holdout_split",
    "is_dataset",
    "stratified_holdout",
    "stratified_subsample",
    "clips_from_paths",
    "frames_from_dataset",
    "list_image_folder",
    "load_ckplus48",
    "load_fer2013",
    "load_jaffe",
    "load_image_folder",
    "make_cv",
    "make_face_scenes",
    "make_faces",
    "make_frame_windows",
    "parse_groups",
    "scene_backgrounds",
    "usage_split",
]

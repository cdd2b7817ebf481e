"""Loading FER data: every registered release (:data:`DATASETS`, :func:`load_dataset`), image
folders, synthetic faces and scenes, label maps across data sets, honest splits, and named
evaluation protocols (honest, the papers' leaky ones, and cross-dataset)."""

from hybridfer.data.affectnet import AFFECTNET_CLASSES, AFFECTNET_CODES, load_affectnet
from hybridfer.data.boxes import crop_boxes
from hybridfer.data.ckplus import CKPLUS_CLASSES, load_ckplus48
from hybridfer.data.ckplus_full import CKPLUS_FULL_CLASSES, load_ckplus, load_ckplus_sequences
from hybridfer.data.cross_dataset import CrossDatasetSplit, cross_dataset
from hybridfer.data.dataset import FERDataset, is_dataset
from hybridfer.data.expw import EXPW_CLASSES, load_expw
from hybridfer.data.fer2013 import FER2013_CLASSES, FER2013_USAGES, load_fer2013
from hybridfer.data.ferplus import FERPLUS_CLASSES, FERPLUS_MODES, ferplus_drop_counts, load_ferplus
from hybridfer.data.folders import list_image_folder, load_image_folder, parse_groups
from hybridfer.data.jaffe import JAFFE_CODES, load_jaffe
from hybridfer.data.kdef import KDEF_ANGLES, KDEF_CLASSES, load_kdef
from hybridfer.data.label_maps import (
    CANONICAL_CLASSES,
    LABEL_MAPS,
    LabelMapping,
    canonical_map,
    label_map_table,
    map_labels,
)
from hybridfer.data.protocols import (
    PROTOCOLS,
    BalancedTestThenSplit,
    OfficialSplit,
    OversampleThenSplit,
    Protocol,
    ProtocolSplit,
    RandomSplit,
    SubjectKFold,
    balanced_test_then_91,
    get_protocol,
    official_fer2013,
    oversample_indices,
    oversample_then_split,
    random_split,
    random_split_91,
    random_split_811,
    subject_kfold,
)
from hybridfer.data.rafdb import RAFDB_CLASSES, load_rafdb
from hybridfer.data.scenes import FaceScenes, make_face_scenes, scene_backgrounds
from hybridfer.data.sequences import (
    FrameWindows,
    PerFrame,
    clips_from_paths,
    frames_from_dataset,
    make_frame_windows,
)
from hybridfer.data.sources import DATASETS, DatasetSource, detect_dataset, load_dataset
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
    "BalancedTestThenSplit",
    "balanced_test_then_91",
    "FERPLUS_CLASSES",
    "FERPLUS_MODES",
    "ferplus_drop_counts",
    "load_ferplus",
    "CKPLUS_FULL_CLASSES",
    "EXPW_CLASSES",
    "KDEF_ANGLES",
    "KDEF_CLASSES",
    "crop_boxes",
    "load_ckplus",
    "load_ckplus_sequences",
    "load_expw",
    "load_kdef",
    "AFFECTNET_CLASSES",
    "AFFECTNET_CODES",
    "RAFDB_CLASSES",
    "load_affectnet",
    "load_rafdb",
    "CANONICAL_CLASSES",
    "CKPLUS_CLASSES",
    "CrossDatasetSplit",
    "DATASETS",
    "DatasetSource",
    "LABEL_MAPS",
    "LabelMapping",
    "canonical_map",
    "cross_dataset",
    "detect_dataset",
    "label_map_table",
    "load_dataset",
    "map_labels",
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

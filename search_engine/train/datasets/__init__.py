"""Data sets for training: a registry of sources that all return one `Dataset` value.

Public entry points: `load_dataset`, `available_datasets`, `validate_npz`, `validate_image_zip`
(and `npz_declared_bytes`, `image_zip_declared_bytes`: sizes from headers alone),
`speech_augmenter`, `compute_mfcc`. Importing this package never imports TensorFlow; only MFCC
computation and image decoding do, lazily.
"""

from __future__ import annotations

from .base import (
    AudioData,
    Dataset,
    DatasetError,
    DatasetInfo,
    MfccConfig,
    default_data_dir,
)
from .image_zip import ImageZipSummary, image_zip_declared_bytes, validate_image_zip
from .npz import NpzSummary, npz_declared_bytes, validate_npz
from .registry import SOURCES, available_datasets, get_source, load_dataset
from .speech import KWS_WORDS, SpeechAugmenter, compute_mfcc, speech_augmenter, which_set

__all__ = [
    "KWS_WORDS",
    "SOURCES",
    "AudioData",
    "Dataset",
    "DatasetError",
    "DatasetInfo",
    "ImageZipSummary",
    "MfccConfig",
    "NpzSummary",
    "SpeechAugmenter",
    "available_datasets",
    "compute_mfcc",
    "default_data_dir",
    "get_source",
    "image_zip_declared_bytes",
    "load_dataset",
    "npz_declared_bytes",
    "speech_augmenter",
    "validate_image_zip",
    "validate_npz",
    "which_set",
]

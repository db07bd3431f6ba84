"""Keyword spotting from a folder of WAV files per word (Speech Commands layout), its MFCC front
end and its waveform augmentation.

Layout: `<root>/<word>/*.wav` (16 kHz mono PCM), optional `<root>/_background_noise_/*.wav`,
optional `validation_list.txt` / `testing_list.txt` (paths relative to root, one a line).
Without the list files each clip goes to a split by the stable hash rule of TensorFlow's
speech_commands `input_data.which_set` (10% validation, 10% test by default).

Front end (`MfccConfig`): 1 s clips (zero-padded / trimmed to 16000 samples), Hann-windowed STFT
with 480-sample (30 ms) frames every 160 samples (10 ms), FFT length 512, power spectrum, 40 mel
bins between 20 Hz and 4000 Hz, log(mel + 1e-6), DCT-II (`tf.signal.mfccs_from_log_mel_
spectrograms`), first 10 coefficients: 98 frames x 10 -> input shape (98, 10, 1).

TensorFlow is imported only inside `compute_mfcc`.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .base import AudioData, Dataset, DatasetError, MfccConfig, check_limit, subsample_indices
from .wav import read_wav

KWS_WORDS = ("down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes")
SILENCE_LABEL = "_silence_"
UNKNOWN_LABEL = "_unknown_"
NOISE_DIR = "_background_noise_"
VALIDATION_LIST = "validation_list.txt"
TESTING_LIST = "testing_list.txt"
MAX_NUM_WAVS_PER_CLASS = 2**27 - 1
SPLITS = ("training", "validation", "testing")


def which_set(filename: str, validation_percentage: float, testing_percentage: float) -> str:
    """"training", "validation" or "testing" for a clip, by TensorFlow's speech_commands rule:
    SHA-1 of the base name with any `_nohash_...` suffix removed, so a speaker's clips stay
    together and a file's split never changes when others are added."""
    base = Path(filename).name
    hash_name = re.sub(r"_nohash_.*$", "", base)
    digest = int(hashlib.sha1(hash_name.encode("utf-8")).hexdigest(), 16)
    percentage = (digest % (MAX_NUM_WAVS_PER_CLASS + 1)) * (100.0 / MAX_NUM_WAVS_PER_CLASS)
    if percentage < validation_percentage:
        return "validation"
    if percentage < validation_percentage + testing_percentage:
        return "testing"
    return "training"


def word_folders(folder: Path) -> list[str]:
    """Sorted names of the sub-folders holding .wav files (not `_...` or hidden ones)."""
    if not folder.is_dir():
        return []
    return sorted(
        p.name for p in folder.iterdir()
        if p.is_dir() and not p.name.startswith((".", "_")) and any(p.glob("*.wav"))
    )


def mfcc_config(
    window_ms: float = 30.0, stride_ms: float = 10.0, num_mfcc: int = 10
) -> MfccConfig:
    base = MfccConfig()
    window = int(base.sample_rate * window_ms / 1000)
    stride = int(base.sample_rate * stride_ms / 1000)
    if not (16 <= window <= base.clip_samples and 1 <= stride <= window):
        raise DatasetError(f"window_ms/stride_ms out of range: {window_ms} ms / {stride_ms} ms")
    fft = 1 << (window - 1).bit_length()
    if not 1 <= num_mfcc <= base.num_mel_bins:
        raise DatasetError(f"num_mfcc must be in 1..{base.num_mel_bins}, got {num_mfcc}")
    return MfccConfig(window_samples=window, stride_samples=stride, fft_length=fft,
                      num_mfcc=num_mfcc)


def compute_mfcc(
    waveforms: np.ndarray, config: MfccConfig = MfccConfig(), chunk: int = 1024  # noqa: B008
) -> np.ndarray:
    """MFCCs float32 (N, frames, num_mfcc, 1) of waveforms (N, clip_samples) in [-1, 1]."""
    import tensorflow as tf

    waves = np.asarray(waveforms)
    if waves.dtype == np.int16:
        waves = waves.astype(np.float32) / 32768.0
    if waves.ndim != 2 or waves.shape[1] != config.clip_samples:
        raise DatasetError(
            f"waveforms must have shape (N, {config.clip_samples}), found {waves.shape}"
        )
    mel = tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins=config.num_mel_bins,
        num_spectrogram_bins=config.fft_length // 2 + 1,
        sample_rate=config.sample_rate,
        lower_edge_hertz=config.lower_hz,
        upper_edge_hertz=config.upper_hz,
    )
    out = np.empty((len(waves), *config.feature_shape), dtype=np.float32)
    for start in range(0, len(waves), chunk):
        x = tf.convert_to_tensor(waves[start : start + chunk], dtype=tf.float32)
        stft = tf.signal.stft(
            x,
            frame_length=config.window_samples,
            frame_step=config.stride_samples,
            fft_length=config.fft_length,
            window_fn=tf.signal.hann_window,
            pad_end=False,
        )
        power = tf.math.square(tf.math.abs(stft))
        log_mel = tf.math.log(tf.tensordot(power, mel, 1) + config.log_offset)
        mfcc = tf.signal.mfccs_from_log_mel_spectrograms(log_mel)[..., : config.num_mfcc]
        out[start : start + len(x), :, :, 0] = mfcc.numpy()
    return out


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    return x[:n] if len(x) >= n else np.pad(x, (0, n - len(x)))


def _to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


@dataclass(frozen=True)
class _Entry:
    path: Path | None  # None: a silence clip
    label: int


def _read_list(path: Path) -> set[str]:
    if not path.is_file():
        return set()
    return {ln.strip().replace("\\", "/") for ln in path.read_text().splitlines() if ln.strip()}


def _noise_clips(root: Path, rate: int) -> tuple[np.ndarray, ...]:
    folder = root / NOISE_DIR
    clips = []
    if folder.is_dir():
        for p in sorted(folder.glob("*.wav")):
            x, sr = read_wav(p)
            if sr != rate:
                raise DatasetError(f"{p}: sample rate {sr} Hz, expected {rate} Hz")
            if len(x):
                clips.append(x.astype(np.float32))
    return tuple(clips)


def _noise_sample(
    noise: tuple[np.ndarray, ...], n: int, rng: np.random.Generator
) -> np.ndarray:
    clip = noise[rng.integers(len(noise))]
    if len(clip) <= n:
        return _fit(clip, n)
    start = rng.integers(0, len(clip) - n + 1)
    return clip[start : start + n]


def load_speech(
    folder: Path,
    *,
    seed: int,
    limit: int | None,
    words: Sequence[str] | None = None,
    silence_percentage: float | None = None,
    unknown_percentage: float | None = None,
    validation_percentage: float = 10.0,
    testing_percentage: float = 10.0,
    window_ms: float = 30.0,
    stride_ms: float = 10.0,
    num_mfcc: int = 10,
) -> Dataset:
    check_limit(limit)
    config = mfcc_config(window_ms, stride_ms, num_mfcc)
    if not folder.is_dir():
        raise DatasetError(
            f"speech: folder {folder} not found (expected <word>/*.wav folders of 16 kHz clips, "
            f"optionally {NOISE_DIR}/, {VALIDATION_LIST} and {TESTING_LIST})"
        )
    found = word_folders(folder)
    if words is None:
        wanted = found
        silence_percentage = silence_percentage or 0.0
        unknown_percentage = unknown_percentage or 0.0
    else:
        if isinstance(words, str) or not all(isinstance(w, str) for w in words):
            raise DatasetError("words must be a list of folder names")
        wanted = list(dict.fromkeys(words))
        missing = [w for w in wanted if w not in found]
        if missing:
            raise DatasetError(
                f"speech: no folder with .wav files for {', '.join(missing)} in {folder} "
                f"(found: {', '.join(found) or 'none'})"
            )
        silence_percentage = 10.0 if silence_percentage is None else silence_percentage
        unknown_percentage = 10.0 if unknown_percentage is None else unknown_percentage
    for what, v in (("silence_percentage", silence_percentage),
                    ("unknown_percentage", unknown_percentage),
                    ("validation_percentage", validation_percentage),
                    ("testing_percentage", testing_percentage)):
        if not 0 <= v <= 100:
            raise DatasetError(f"{what} must be within 0..100, got {v}")
    classes: list[str] = []
    if silence_percentage > 0:
        classes.append(SILENCE_LABEL)
    if unknown_percentage > 0 and len(wanted) < len(found):
        classes.append(UNKNOWN_LABEL)
    classes += wanted
    if len(classes) < 2:
        raise DatasetError(
            f"speech: need at least 2 classes, found {', '.join(classes) or 'none'} in {folder}"
        )
    index = {c: i for i, c in enumerate(classes)}

    val_list, test_list = _read_list(folder / VALIDATION_LIST), _read_list(folder / TESTING_LIST)
    use_lists = bool(val_list or test_list)
    known: dict[str, list[_Entry]] = {s: [] for s in SPLITS}
    unknown: dict[str, list[_Entry]] = {s: [] for s in SPLITS}
    for word in found:
        for p in sorted((folder / word).glob("*.wav")):
            rel = f"{word}/{p.name}"
            if use_lists:
                split = ("validation" if rel in val_list
                         else "testing" if rel in test_list else "training")
            else:
                split = which_set(rel, validation_percentage, testing_percentage)
            if word in index:
                known[split].append(_Entry(p, index[word]))
            elif UNKNOWN_LABEL in index:
                unknown[split].append(_Entry(p, index[UNKNOWN_LABEL]))

    rng = np.random.default_rng(seed)
    entries: dict[str, list[_Entry]] = {}
    for s in SPLITS:
        n = len(known[s])
        chosen = list(known[s])
        if UNKNOWN_LABEL in index:
            k = min(len(unknown[s]), int(math.ceil(n * unknown_percentage / 100)))
            pick = rng.permutation(len(unknown[s]))[:k]
            chosen += [unknown[s][i] for i in sorted(pick)]
        if SILENCE_LABEL in index:
            k = int(math.ceil(n * silence_percentage / 100))
            chosen += [_Entry(None, index[SILENCE_LABEL])] * k
        if not chosen:
            raise DatasetError(f"speech: the {s} split of {folder} is empty")
        entries[s] = chosen

    noise = _noise_clips(folder, config.sample_rate)
    n = config.clip_samples
    waves: dict[str, np.ndarray] = {}
    labels: dict[str, np.ndarray] = {}
    silent: dict[str, np.ndarray] = {}
    for offset, s in enumerate(SPLITS):
        idx = subsample_indices(len(entries[s]), limit, seed + offset)
        noise_rng = np.random.default_rng([seed, offset])
        w = np.zeros((len(idx), n), dtype=np.int16)
        for row, i in enumerate(idx):
            e = entries[s][i]
            if e.path is None:
                if noise:
                    w[row] = _to_int16(_noise_sample(noise, n, noise_rng) * noise_rng.random())
                continue
            x, sr = read_wav(e.path)
            if sr != config.sample_rate:
                raise DatasetError(
                    f"{e.path}: sample rate {sr} Hz, expected {config.sample_rate} Hz"
                )
            w[row] = _to_int16(_fit(x, n))
        waves[s] = w
        labels[s] = np.array([entries[s][i].label for i in idx], dtype=np.int64)
        silent[s] = np.array([entries[s][i].path is None for i in idx], dtype=bool)

    return Dataset(
        name="speech",
        x_train=compute_mfcc(waves["training"], config),
        y_train=labels["training"],
        x_val=compute_mfcc(waves["validation"], config),
        y_val=labels["validation"],
        x_test=compute_mfcc(waves["testing"], config),
        y_test=labels["testing"],
        input_shape=config.feature_shape,
        class_names=tuple(classes),
        origin=str(folder),
        audio=AudioData(
            train_waveforms=waves["training"],
            train_silence=silent["training"],
            background_noise=noise,
            mfcc=config,
        ),
    )


@dataclass(frozen=True)
class SpeechAugmenter:
    """Training-time augmentation of waveforms, then MFCCs (as TF's speech_commands does).

    Per clip: a random time shift of up to +-`time_shift_samples` (zero fill); with probability
    `noise_prob` a random stretch of a random background-noise recording mixed in at a volume
    drawn from U(0, `noise_volume`); `_silence_` clips get muted foreground and noise at a volume
    from U(0, 1); the sum is clipped to [-1, 1].
    """

    audio: AudioData
    time_shift_samples: int = 1600
    noise_prob: float = 0.8
    noise_volume: float = 0.1
    seed: int = 0

    def augment_waveforms(
        self,
        waves: np.ndarray,
        rng: np.random.Generator,
        silence: np.ndarray | None = None,
    ) -> np.ndarray:
        w = np.asarray(waves)
        w = w.astype(np.float32) / 32768.0 if w.dtype == np.int16 else w.astype(np.float32)
        b: int
        n: int
        b, n = w.shape
        out: np.ndarray = w
        t = self.time_shift_samples
        if t > 0:
            shift = rng.integers(-t, t + 1, size=b)
            src = np.arange(n)[None, :] - shift[:, None]
            valid = (src >= 0) & (src < n)
            out = np.where(valid, np.take_along_axis(w, np.clip(src, 0, n - 1), axis=1), 0.0)
        silence = np.zeros(b, bool) if silence is None else np.asarray(silence, bool)
        out = np.where(silence[:, None], 0.0, out)
        noise = self.audio.background_noise
        if noise:
            volume = np.where(
                silence,
                rng.random(b),
                np.where(rng.random(b) < self.noise_prob, rng.random(b) * self.noise_volume, 0.0),
            )
            for i in np.flatnonzero(volume > 0):
                out[i] = out[i] + volume[i] * _noise_sample(noise, n, rng)
        clipped: np.ndarray = np.clip(out, -1.0, 1.0).astype(np.float32)
        return clipped

    def __call__(
        self,
        waves: np.ndarray,
        rng: np.random.Generator | None = None,
        silence: np.ndarray | None = None,
    ) -> np.ndarray:
        rng = rng if rng is not None else np.random.default_rng(self.seed)
        return compute_mfcc(self.augment_waveforms(waves, rng, silence), self.audio.mfcc)


def speech_augmenter(
    dataset: Dataset,
    *,
    time_shift_ms: float = 100.0,
    noise_prob: float = 0.8,
    noise_volume: float = 0.1,
    seed: int = 0,
) -> SpeechAugmenter:
    """The augmenter for a speech `Dataset` (defaults: TF speech_commands' training values)."""
    if dataset.audio is None:
        raise DatasetError(f"{dataset.name} has no audio; speech_augmenter needs a speech set")
    shift = int(round(dataset.audio.mfcc.sample_rate * time_shift_ms / 1000))
    return SpeechAugmenter(dataset.audio, shift, noise_prob, noise_volume, seed)

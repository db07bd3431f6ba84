"""The speech (keyword spotting) source on synthetic WAV files: splits (hash rule and list
files), MFCC front end against an independent numpy implementation, silence/unknown classes
and waveform augmentation."""

from __future__ import annotations

import math
import wave
from pathlib import Path

import numpy as np
import pytest
import scipy.fft

from search_engine.train.augment import make_train_batch_fn
from search_engine.train.datasets import (
    DatasetError,
    MfccConfig,
    compute_mfcc,
    load_dataset,
    speech_augmenter,
    which_set,
)
from search_engine.train.datasets.wav import read_wav, write_wav
from search_engine.train.profiles import get_profile

RATE = 16000
TONES = {"yes": 440.0, "no": 880.0, "up": 1500.0}
SPEAKERS = 25


def tone(freq: float, n: int = RATE, amp: float = 0.5) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq * np.arange(n) / RATE)


@pytest.fixture(scope="module")
def speech_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("speech")
    for word, freq in TONES.items():
        (root / word).mkdir()
        for s in range(SPEAKERS):
            n = RATE if s % 5 else (RATE // 2 if s % 10 else RATE + 4000)  # pad / trim cases
            write_wav(root / word / f"spk{s:02d}_nohash_0.wav", tone(freq, n, 0.2 + s / 100))
    (root / "_background_noise_").mkdir()
    rng = np.random.default_rng(0)
    write_wav(root / "_background_noise_" / "white.wav", rng.uniform(-0.5, 0.5, 3 * RATE))
    return root


def expected_split_counts(root: Path, words) -> dict[str, int]:
    counts = {"training": 0, "validation": 0, "testing": 0}
    for w in words:
        for p in (root / w).glob("*.wav"):
            counts[which_set(f"{w}/{p.name}", 10, 10)] += 1
    return counts


def test_which_set_follows_the_speech_commands_rule():
    names = [f"{i:08x}_nohash_{j}.wav" for i in range(4000) for j in range(2)]
    sets = [which_set(f"yes/{n}", 10, 10) for n in names]
    # Clips of one speaker (same name before _nohash_) share a split.
    assert all(sets[2 * i] == sets[2 * i + 1] for i in range(4000))
    share = {s: sets.count(s) / len(sets) for s in ("training", "validation", "testing")}
    assert abs(share["validation"] - 0.1) < 0.015 and abs(share["testing"] - 0.1) < 0.015
    # The rule itself, written out: SHA-1 of the name without _nohash_..., mod 2**27.
    import hashlib

    h = int(hashlib.sha1(b"abc").hexdigest(), 16) % 2**27 * (100.0 / (2**27 - 1))
    expected = "validation" if h < 10 else "testing" if h < 20 else "training"
    assert which_set("dir/abc_nohash_7.wav", 10, 10) == expected


def test_load_shapes_classes_and_hash_split(speech_dir):
    ds = load_dataset("speech", data_dir=speech_dir.parent, path=speech_dir)
    assert ds.class_names == ("no", "up", "yes")  # all word folders, sorted
    assert ds.input_shape == (98, 10, 1) and ds.x_train.shape[1:] == (98, 10, 1)
    assert ds.x_train.dtype == np.float32 and ds.feature_kind == "mfcc"
    counts = expected_split_counts(speech_dir, TONES)
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (
        counts["training"], counts["validation"], counts["testing"]
    )
    assert ds.audio is not None and ds.audio.train_waveforms.shape == (len(ds.y_train), RATE)
    assert ds.audio.train_waveforms.dtype == np.int16 and not ds.audio.train_silence.any()
    assert len(ds.audio.background_noise) == 1
    # Features are the MFCCs of the stored waveforms.
    np.testing.assert_allclose(compute_mfcc(ds.audio.train_waveforms[:3]), ds.x_train[:3],
                               rtol=1e-5, atol=1e-4)


def test_the_stored_waveforms_are_padded_and_trimmed(speech_dir):
    ds = load_dataset("speech", path=speech_dir, limit=200)
    w = ds.audio.train_waveforms.astype(np.float32) / 32768
    short = np.abs(w[:, RATE // 2 :]).max(axis=1) == 0
    assert short.any() and not short.all()  # half-second clips end in zeros


def numpy_mfcc(wave: np.ndarray, cfg: MfccConfig) -> np.ndarray:
    """An independent MFCC: framing, periodic Hann, |rfft|^2, HTK mel triangles (as TF builds
    them, without the DC bin), log, orthonormally scaled DCT-II."""
    n_frames = 1 + (len(wave) - cfg.window_samples) // cfg.stride_samples
    idx = np.arange(cfg.window_samples)[None, :] + cfg.stride_samples * np.arange(n_frames)[:, None]
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(cfg.window_samples) / cfg.window_samples)
    power = np.abs(np.fft.rfft(wave[idx] * hann, n=cfg.fft_length)) ** 2
    mel = lambda f: 1127.0 * np.log1p(np.asarray(f) / 700.0)  # noqa: E731
    bins = cfg.fft_length // 2 + 1
    freqs = np.linspace(0, cfg.sample_rate / 2, bins)[1:]
    edges = np.linspace(mel(cfg.lower_hz), mel(cfg.upper_hz), cfg.num_mel_bins + 2)
    m = mel(freqs)[:, None]
    lower = (m - edges[None, :-2]) / (edges[1:-1] - edges[:-2])
    upper = (edges[None, 2:] - m) / (edges[2:] - edges[1:-1])
    weights = np.vstack([np.zeros((1, cfg.num_mel_bins)), np.maximum(0, np.minimum(lower, upper))])
    log_mel = np.log(power @ weights + cfg.log_offset)
    dct = scipy.fft.dct(log_mel, type=2, axis=-1) / math.sqrt(2 * cfg.num_mel_bins)
    return dct[:, : cfg.num_mfcc]


def test_mfcc_matches_an_independent_numpy_implementation():
    cfg = MfccConfig()
    assert (cfg.window_samples, cfg.stride_samples, cfg.fft_length) == (480, 160, 512)
    assert cfg.num_frames == 98 and cfg.feature_shape == (98, 10, 1)
    rng = np.random.default_rng(1)
    waves = np.stack([tone(440), rng.uniform(-0.3, 0.3, RATE), np.zeros(RATE)]).astype(np.float32)
    ours = compute_mfcc(waves, cfg)
    assert ours.shape == (3, 98, 10, 1)
    for i in range(3):
        ref = numpy_mfcc(waves[i].astype(np.float64), cfg)
        np.testing.assert_allclose(ours[i, :, :, 0], ref, rtol=1e-3, atol=2e-3)


def test_mfcc_frames_are_30ms_windows_every_10ms():
    """A click at sample s shows in frames k with 160k <= s < 160k + 480 and nowhere else."""
    wave_ = np.zeros((1, RATE), np.float32)
    wave_[0, 8080] = 1.0
    energy = compute_mfcc(wave_)[0, :, 0, 0]  # c0 ~ log energy
    hit = np.flatnonzero(energy > energy.min() + 1.0)
    assert hit.tolist() == [k for k in range(98) if 160 * k <= 8080 < 160 * k + 480]
    assert hit.tolist() == [48, 49, 50]


def test_other_window_and_stride(speech_dir):
    ds = load_dataset("speech", path=speech_dir, stride_ms=20, num_mfcc=13, limit=4)
    assert ds.input_shape == (49, 13, 1) and ds.x_val.shape[1:] == (49, 13, 1)
    with pytest.raises(DatasetError, match="num_mfcc must be in 1..40"):
        load_dataset("speech", path=speech_dir, num_mfcc=41)


def test_list_files_are_honoured(tmp_path):
    root = tmp_path / "kws"
    for word, freq in TONES.items():
        (root / word).mkdir(parents=True)
        for s in range(6):
            write_wav(root / word / f"s{s}_nohash_0.wav", tone(freq))
    (root / "validation_list.txt").write_text("yes/s0_nohash_0.wav\nyes/s1_nohash_0.wav\n"
                                               "no/s2_nohash_0.wav\n")
    (root / "testing_list.txt").write_text("up/s3_nohash_0.wav\n\n")
    ds = load_dataset("speech", path=root)
    names = ds.class_names
    assert sorted(names[i] for i in ds.y_val) == ["no", "yes", "yes"]
    assert [names[i] for i in ds.y_test] == ["up"]
    assert len(ds.y_train) == 18 - 4


def test_words_with_silence_and_unknown(speech_dir):
    ds = load_dataset("speech", path=speech_dir, words=["yes", "no"], seed=2)
    assert ds.class_names == ("_silence_", "_unknown_", "yes", "no")
    counts = expected_split_counts(speech_dir, ["yes", "no"])
    n_known = counts["training"]
    y = ds.y_train
    assert (y >= 2).sum() == n_known
    assert (y == 0).sum() == math.ceil(n_known * 0.1)
    assert (y == 1).sum() == math.ceil(n_known * 0.1)  # enough "up" clips to pick from
    assert ds.audio.train_silence.sum() == (y == 0).sum()
    # Silence clips are background noise at a random volume, never a word.
    sil = ds.audio.train_waveforms[ds.audio.train_silence].astype(np.float32) / 32768
    assert np.abs(sil).max() <= 0.5 + 1e-3
    none = load_dataset("speech", path=speech_dir, words=["yes", "no"],
                        silence_percentage=0, unknown_percentage=0)
    assert none.class_names == ("yes", "no")
    with pytest.raises(DatasetError, match="no folder with .wav files for maybe"):
        load_dataset("speech", path=speech_dir, words=["yes", "maybe"])
    with pytest.raises(DatasetError, match="words must be a list"):
        load_dataset("speech", path=speech_dir, words="yes")


def test_determinism_and_limit(speech_dir):
    a = load_dataset("speech", path=speech_dir, words=["yes"], seed=5, limit=7)
    b = load_dataset("speech", path=speech_dir, words=["yes"], seed=5, limit=7)
    assert len(a.y_train) == 7
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.audio.train_waveforms, b.audio.train_waveforms)


def test_binary_speech(speech_dir):
    ds = load_dataset("speech", path=speech_dir, binary=True, limit=10)
    assert ds.class_names == ("no", "up/yes") and set(ds.y_train) <= {0, 1}


def test_augmentation_changes_waveforms_not_shapes(speech_dir):
    ds = load_dataset("speech", path=speech_dir, words=["yes", "no"], limit=12)
    aug = speech_augmenter(ds)
    assert aug.time_shift_samples == 1600
    w = ds.audio.train_waveforms[:8]
    out = aug.augment_waveforms(w, np.random.default_rng(0), ds.audio.train_silence[:8])
    assert out.shape == (8, RATE) and out.dtype == np.float32
    assert not np.allclose(out, w / 32768)
    assert np.abs(out).max() <= 1.0
    again = aug.augment_waveforms(w, np.random.default_rng(0), ds.audio.train_silence[:8])
    np.testing.assert_array_equal(out, again)
    feats = aug(w, np.random.default_rng(0), ds.audio.train_silence[:8])
    assert feats.shape == (8, 98, 10, 1)


def test_time_shift_moves_a_click_by_at_most_100ms(speech_dir):
    ds = load_dataset("speech", path=speech_dir, limit=2)
    aug = speech_augmenter(ds, noise_prob=0.0)
    w = np.zeros((200, RATE), np.float32)
    w[:, 8000] = 0.5
    out = aug.augment_waveforms(w, np.random.default_rng(1))
    where = np.argmax(np.abs(out), axis=1)
    shift = where - 8000
    assert np.abs(shift).max() <= 1600 and len(set(shift.tolist())) > 50
    np.testing.assert_allclose(out.max(axis=1), 0.5)
    # Silence rows: the word is muted, only noise remains (here no noise at all).
    quiet = speech_augmenter(ds, noise_prob=0.0)
    silent = quiet.augment_waveforms(w[:3], np.random.default_rng(0), np.array([1, 0, 1], bool))
    assert np.abs(silent[[0, 2]]).max() <= 0.5 + 1e-6  # noise up to volume 1 of a 0.5 clip
    assert np.abs(silent[1]).max() == pytest.approx(0.5)


def test_noise_is_mixed_with_probability(speech_dir):
    ds = load_dataset("speech", path=speech_dir, limit=2)
    w = np.zeros((400, RATE), np.float32)
    out = speech_augmenter(ds, time_shift_ms=0, noise_prob=0.5, noise_volume=0.1) \
        .augment_waveforms(w, np.random.default_rng(3))
    noisy = np.abs(out).max(axis=1) > 0
    assert 0.4 < noisy.mean() < 0.6
    assert np.abs(out).max() <= 0.05 + 1e-6  # noise in [-0.5, 0.5] at volume <= 0.1


def test_train_batch_fn_for_speech(speech_dir):
    ds = load_dataset("speech", path=speech_dir, limit=10)
    profile = get_profile("speech", "paper")  # quick has no augmentation
    batch = make_train_batch_fn(ds, profile.augmentation, seed=0)
    idx = np.array([0, 3, 5])
    x = batch(idx, np.random.default_rng(0))
    assert x.shape == (3, 98, 10, 1) and x.dtype == np.float32
    assert not np.allclose(x, ds.x_train[idx])
    np.testing.assert_array_equal(batch(idx), batch(idx))  # no rng: seeded, repeatable


def test_wav_errors(tmp_path):
    root = tmp_path / "s"
    for word in ("a", "b"):
        (root / word).mkdir(parents=True)
        write_wav(root / word / "x.wav", tone(300))
    with wave.open(str(root / "b" / "y.wav"), "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(8000)
        wf.writeframes(b"\x00\x00" * 8000)
    (root / "a" / "z.wav").write_bytes(b"RIFF....nonsense")
    with pytest.raises(DatasetError, match="not a readable PCM WAV file"):
        read_wav(root / "a" / "z.wav")
    (root / "a" / "z.wav").unlink()
    (root / "validation_list.txt").write_text("a/x.wav\n")
    (root / "testing_list.txt").write_text("b/x.wav\n")
    with pytest.raises(DatasetError, match=r"b/y\.wav: sample rate 8000 Hz, expected 16000 Hz"):
        load_dataset("speech", path=root)
    (root / "b" / "y.wav").unlink()
    with pytest.raises(DatasetError, match="the training split of .* is empty"):
        load_dataset("speech", path=root)


def test_wav_reader_formats(tmp_path):
    x = np.array([0.0, 0.5, -0.5, 0.25])
    for width, scale in ((1, 128), (2, 32768), (3, 1 << 23), (4, 1 << 31)):
        ints = np.round(x * (scale - 1)).astype(np.int64)
        if width == 1:
            raw = (ints + 128).astype(np.uint8).tobytes()
        else:
            raw = b"".join(int(v).to_bytes(width, "little", signed=True) for v in ints)
        stereo = b"".join(raw[i * width:(i + 1) * width] * 2 for i in range(len(x)))
        with wave.open(str(tmp_path / f"{width}.wav"), "wb") as wf:
            wf.setnchannels(2)
            wf.setsampwidth(width)
            wf.setframerate(RATE)
            wf.writeframes(stereo)
        got, rate = read_wav(tmp_path / f"{width}.wav")
        assert rate == RATE
        np.testing.assert_allclose(got, x, atol=1.0 / 64)

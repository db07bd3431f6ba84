"""The reaper removes the temporary folders that killed evaluations left in UNAS_WORK_DIR
(issue 12: nothing removed them)."""

from __future__ import annotations

import os
import time

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from nasweb.searches import handlers
from nasweb.searches.models import Candidate, CandidateState, Project
from nasweb.searches.testing import recording_dispatcher

pytestmark = pytest.mark.django_db


def test_reap_removes_folders_of_candidates_no_longer_running(settings, tmp_path):
    settings.UNAS_WORK_DIR = tmp_path / "work"
    owner = get_user_model().objects.create_user("ada", password="x")
    project = Project.objects.create(owner=owner, name="p")
    with recording_dispatcher():
        search = handlers.create_search(
            project, name="s", dataset="digits", input_shape=[8, 8, 1], num_classes=10,
            sram_bytes=6000, flash_bytes=24000, bound_sram_bytes=6000.0,
            bound_flash_bytes=24000.0, rounds=4, population=2, sample=1, sparsity_min=0.1,
            sparsity_max=0.5)
        handlers.start_search(search.pk)
        first, second = Candidate.objects.filter(search=search).order_by("index")[:2]
        Candidate.objects.filter(pk=first.pk).update(state=CandidateState.RUNNING,
                                                     heartbeat=timezone.now())
        Candidate.objects.filter(pk=second.pk).update(state=CandidateState.FAILED)
        work = settings.UNAS_WORK_DIR
        work.mkdir(parents=True)
        old = time.time() - 3600
        folders = {"running": work / f"c{first.pk}-abc", "killed": work / f"c{second.pk}-def",
                   "gone": work / "c999999-x", "young": work / f"c{second.pk}-new",
                   "other": work / "not-an-evaluation"}
        for name, folder in folders.items():
            (folder / "sub").mkdir(parents=True)
            (folder / "sub" / "model.tflite").write_bytes(b"x" * 100)
            if name != "young":
                os.utime(folder, (old, old))
        done = handlers.reap()
    assert done["cleaned"] == 2
    assert not folders["killed"].exists() and not folders["gone"].exists()
    assert folders["running"].exists() and folders["young"].exists()
    assert folders["other"].exists()

"""Fuzz the API from its own OpenAPI schema (schemathesis): no request may produce a 5xx.

Every operation gets valid (positive) and invalid (negative) requests, both with generated path
parameters (mostly 404s) and with the ids of real objects of the authenticated user, so the
views' validation is reached. ``UNAS_FUZZ_EXAMPLES`` (default 12) sets the examples per
operation and mode; the bench-sized run is ``UNAS_FUZZ_EXAMPLES=200``.
"""

from __future__ import annotations

import os
import uuid

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation.modes import GenerationMode

from nasweb.searches.testing import recording_dispatcher, run_recorded

pytestmark = pytest.mark.django_db(transaction=True)
EXAMPLES = int(os.environ.get("UNAS_FUZZ_EXAMPLES", "12"))


def seed_objects(user):
    """A project, a finished small search with candidates, and an upload of ``user``."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from nasweb.searches import datasets, handlers
    from nasweb.searches.models import Project
    from tests.test_web_api_datasets import npz_bytes

    project = Project.objects.create(owner=user, name=f"seed-{uuid.uuid4().hex}")
    upload = datasets.store_upload(user, "seed", SimpleUploadedFile("a.npz", npz_bytes()))
    with recording_dispatcher() as recorder:
        search = handlers.create_search(
            project, name="s", dataset="digits", input_shape=[8, 8, 1], num_classes=10,
            sram_bytes=6000, flash_bytes=24000, bound_sram_bytes=6000.0,
            bound_flash_bytes=24000.0, rounds=3, population=2, sample=1, sparsity_min=0.1,
            sparsity_max=0.5)
        run_recorded(recorder)
    return {"project": project.pk, "search": search.pk, "upload": upload.pk}


def real_path_parameters(path, ids):
    if "{search_pk}" in path:
        return {"search_pk": ids["search"], "index": 0}
    if path.startswith("/api/projects/{id}"):
        return {"id": ids["project"]}
    if path.startswith("/api/searches/{id}"):
        return {"id": ids["search"]}
    if path.startswith("/api/datasets/uploads/{id}"):
        return {"id": ids["upload"]}
    return None


def test_no_request_produces_a_server_error(web_env, web_user):
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    token = Token.objects.create(user=web_user).key
    headers = {"Authorization": f"Token {token}"}
    operations = [r.ok() for r in schema.get_all_operations() if isinstance(r, Ok)]
    assert len(operations) >= 30
    failures = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for real in (False, True):
                ids = seed_objects(web_user) if real else None
                fixed = real_path_parameters(operation.path, ids) if real else None
                if real and fixed is None:
                    continue
                strategy = operation.as_strategy(generation_mode=mode, path_parameters=fixed)

                @settings(max_examples=EXAMPLES, deadline=None, database=None,
                          suppress_health_check=list(HealthCheck), derandomize=True)
                @given(case=strategy)
                def run(case):
                    case.call_and_validate(headers=headers, checks=[not_a_server_error])

                try:
                    run()
                except Unsatisfiable:
                    continue  # nothing to negate in this operation (no parameters, no body)
                except Exception as exc:  # noqa: BLE001 - collect every operation's failure
                    failures.append(f"{operation.method.upper()} {operation.path} "
                                    f"({mode}, real ids={real}): {str(exc)[:800]}")
    assert not failures, "\n\n".join(failures)

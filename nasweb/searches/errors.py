"""API error responses: every refusal is a 4xx with a field-level message.

DRF's own handler covers its exceptions (validation, authentication, 404, parse errors); this
adds the service layer's (``HandlerError``, ``UploadError``, ``EngineSetupError``) and the
database's refusals that a request can provoke (a unique name taken by a concurrent request, a
data set still used by a search).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .datasets import UploadError
from .engine import EngineSetupError
from .handlers import HandlerError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, HandlerError):
        return Response(exc.detail(), status=exc.status)
    if isinstance(exc, UploadError):
        return Response({exc.field: [str(exc)]}, status=exc.status)
    if isinstance(exc, EngineSetupError):
        return Response({exc.field: [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        return Response(detail, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, ProtectedError):
        return Response({"detail": "still in use by a project or search; delete those first"},
                        status=status.HTTP_409_CONFLICT)
    if isinstance(exc, IntegrityError):
        return Response({"detail": "conflicts with an existing object (is the name taken?)"},
                        status=status.HTTP_409_CONFLICT)
    return drf_exception_handler(exc, context)

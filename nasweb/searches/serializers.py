"""API shapes and input validation: every refusal names its field.

Text fields refuse NUL characters (DRF's default) and lone surrogates (they cannot be stored);
numbers are bounded so that no value can overflow a database column.
"""

from __future__ import annotations

import math
from typing import Any

from django.contrib.auth import authenticate, get_user_model, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .engine import EngineSetupError, builtin_shape, limit_floor, profile_sparsity_range
from .models import (
    METRIC_COLUMNS,
    OBJECTIVE_COLUMNS,
    PRECHECK_COLUMNS,
    Artifact,
    Candidate,
    CandidateState,
    DatasetKind,
    Project,
    Search,
    SearchEvent,
    UploadedDataset,
)
from .presets import PLAUSIBLE_MAX_FLASH_BYTES, PLAUSIBLE_MAX_SRAM_BYTES

MAX_BYTES = 2**40  # 1 TiB: far above any MCU, far below any column's range
MAX_MACS = 2**50
MAX_ROUNDS = 100_000
MAX_POPULATION = 10_000
MAX_IN_FLIGHT = 64
MAX_TIME_BUDGET = 366 * 24 * 3600
MAX_SEED = 2**63 - 1
MAX_DATA_LIMIT = 10_000_000
MAX_BOUND = 1e18


def valid_text(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise serializers.ValidationError("contains characters that are not valid text "
                                          "(lone surrogates)") from None
    return value


class Text(serializers.CharField):
    """A CharField that also refuses lone surrogates."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators.append(valid_text)


class Name(Text):
    """A name: surrounding blanks trimmed, blank refused ("may not be blank"), 100 characters
    at most unless told otherwise."""

    default_error_messages = {"blank": "may not be blank"}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 100)
        super().__init__(trim_whitespace=True, allow_blank=False, **kwargs)


class Bound(serializers.FloatField):
    """A positive, finite float (a soft bound)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("max_value", MAX_BOUND)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> float:
        value = super().to_internal_value(data)
        if not math.isfinite(value) or value <= 0:
            raise serializers.ValidationError("must be a positive, finite number")
        return value


def _owned_uploads(serializer: serializers.Serializer) -> Any:
    request = serializer.context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return UploadedDataset.objects.none()
    return UploadedDataset.objects.filter(owner=user)


@extend_schema_field(OpenApiTypes.INT)
@extend_schema_field({"oneOf": [
    {"type": "integer", "minimum": 1, "maximum": MAX_BYTES},
    {"type": "string", "example": "20 KiB",
     "description": "a number with an optional unit: B, KB (1000), KiB (1024), MB, MiB"}]})
class ByteSize(serializers.Field):
    """A byte count as a number or as the CLI writes it (``20480``, ``20KB``, ``20 KiB``).

    Parsed by the CLI's own parser (``search_engine.cli.units.parse_bytes``), so the form, the
    API and the command line accept the same text and give the same messages.
    """

    def __init__(self, *, label: str, **kwargs: Any) -> None:
        self.what = label
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        from search_engine.cli.units import parse_bytes

        if isinstance(data, bool) or not isinstance(data, (int, float, str)):
            raise serializers.ValidationError(
                "expected a number of bytes or a size such as '20 KiB'")
        if isinstance(data, str):
            valid_text(data)
            if len(data) > 40:
                raise serializers.ValidationError("too long for a size (40 characters at most)")
        text = data if isinstance(data, str) else repr(data)
        try:
            value = parse_bytes(text, self.what)
        except ValueError as exc:
            raise serializers.ValidationError(
                str(exc).removeprefix(f"{self.what}: ")) from None
        if value > MAX_BYTES:
            raise serializers.ValidationError(
                f"{value} bytes is more than {MAX_BYTES} (1 TiB), far above any MCU")
        return value

    def to_representation(self, value: int) -> int:
        return int(value)


class OwnedUploadField(serializers.PrimaryKeyRelatedField):
    """An upload id, resolved among the requesting user's uploads only."""

    def get_queryset(self) -> Any:
        return _owned_uploads(self.parent)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("incorrect_type", data_type=type(data).__name__)
        try:
            pk = int(data)
        except (TypeError, ValueError):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if not 0 < pk < 2**63:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(pk)


def resolve_dataset(dataset: str | None, upload: UploadedDataset | None
                    ) -> tuple[str, tuple[int, int, int], int]:
    """(name, input shape, classes) for a server data set name or an upload."""
    if upload is not None:
        if dataset and dataset != upload.kind:
            raise serializers.ValidationError(
                {"dataset": [f"the upload is an {upload.kind} data set; leave dataset out or "
                             f"give {upload.kind!r}"]})
        return upload.kind, tuple(upload.input_shape), upload.num_classes
    name = dataset or "digits"
    if name in DatasetKind.values:
        raise serializers.ValidationError({"upload": [f"required for a {name} data set"]})
    try:
        shape, classes = builtin_shape(name)
    except EngineSetupError as exc:
        raise serializers.ValidationError({exc.field: [str(exc)]}) from None
    return name, shape, classes


def _kib(n: float) -> str:
    return f"{n / 1024:.1f} KiB" if n >= 1024 else f"{int(n)} B"


def hopeless_limits(dataset: str, shape: tuple[int, ...], classes: int, max_sparsity: float,
                    sram: int, flash: int) -> dict[str, list[str]]:
    """Field errors for limits below the smallest model of the space (``search.floor``)."""
    floor = limit_floor(tuple(int(d) for d in shape), int(classes), float(max_sparsity))
    where = f"{dataset} ({'×'.join(str(d) for d in shape)}, {classes} classes)"
    errors: dict[str, list[str]] = {}
    if sram < floor.sram_bytes:
        errors["sram_bytes"] = [
            f"too small: no model can fit in {_kib(sram)} of SRAM. The smallest network of "
            f"the search space for {where} needs about {floor.sram_bytes} bytes "
            f"({_kib(floor.sram_bytes)}): {floor.peak_memory_bytes} B of activations plus "
            f"{floor.sram_overhead_bytes} B of TFLite Micro's own arena data. Give at least "
            f"{floor.sram_bytes} bytes."]
    if flash < floor.flash_bytes:
        errors["flash_bytes"] = [
            f"too small: no model can fit in {_kib(flash)} of Flash. The smallest network of "
            f"the search space for {where} needs about {floor.flash_bytes} bytes "
            f"({_kib(floor.flash_bytes)}): {floor.model_size_bytes} B of weights plus "
            f"{floor.flash_overhead_bytes} B of .tflite structure. Give at least "
            f"{floor.flash_bytes} bytes."]
    return errors


def implausible_limits(sram: int, flash: int) -> dict[str, list[str]]:
    """Warnings (not errors) for limits above what any MCU has (``presets.PLAUSIBLE_*``)."""
    warnings: dict[str, list[str]] = {}
    if sram > PLAUSIBLE_MAX_SRAM_BYTES:
        warnings["sram_bytes"] = [
            f"{_mib(sram)} of SRAM is more than any microcontroller has (the largest have a few "
            f"MiB, {_mib(PLAUSIBLE_MAX_SRAM_BYTES)} with external PSRAM); check the unit."]
    if flash > PLAUSIBLE_MAX_FLASH_BYTES:
        warnings["flash_bytes"] = [
            f"{_mib(flash)} of Flash is more than any microcontroller has (up to "
            f"{_mib(PLAUSIBLE_MAX_FLASH_BYTES)} with external QSPI Flash); check the unit."]
    return warnings


def _mib(n: int) -> str:
    return f"{n / 1024**2:,.0f} MiB"


# -- projects -------------------------------------------------------------------------------


class ProjectSerializer(serializers.ModelSerializer):
    name = Name()
    description = Text(max_length=5000, required=False, allow_blank=True)
    dataset = Text(max_length=40, required=False,
                   help_text="a server data set (see /api/datasets/) or the upload's kind")
    upload = OwnedUploadField(required=False, allow_null=True)
    searches = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = ["id", "name", "description", "dataset", "upload", "searches", "created_at",
                  "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]

    def get_searches(self, project: Project) -> int:
        return project.searches.count()

    def validate_name(self, value: str) -> str:
        owner = self.context["request"].user
        taken = Project.objects.filter(owner=owner, name=value)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise serializers.ValidationError("you already have a project with this name")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance = self.instance
        if instance is not None and "dataset" not in attrs and "upload" not in attrs:
            return attrs
        dataset = attrs.get("dataset")
        if "upload" in attrs:
            upload = attrs["upload"]
        elif dataset is not None and dataset not in DatasetKind.values:
            upload = None  # switching to a server data set drops the upload
        else:
            upload = instance.upload if instance is not None else None
        if (dataset is None and upload is None and instance is not None
                and instance.dataset not in DatasetKind.values):
            dataset = instance.dataset
        attrs["dataset"], _, _ = resolve_dataset(dataset, upload)
        attrs["upload"] = upload
        return attrs


# -- searches -------------------------------------------------------------------------------


class SearchSerializer(serializers.ModelSerializer):
    """A search as the API shows it."""

    limits = serializers.SerializerMethodField()
    bounds = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()

    class Meta:
        model = Search
        fields = ["id", "project", "name", "description", "dataset", "upload", "input_shape",
                  "num_classes", "data_limit", "sram_bytes", "flash_bytes", "macs",
                  "bound_error", "bound_sram_bytes", "bound_flash_bytes", "bound_macs",
                  "limits", "bounds", "strategy", "population", "sample", "rounds",
                  "time_budget_seconds", "profile", "sparsity_min", "sparsity_max", "seed",
                  "inheritance", "in_flight_target", "state", "error_message", "progress",
                  "last_event_id", "created_at", "updated_at", "started_at", "finished_at"]
        read_only_fields = fields

    def get_limits(self, search: Search) -> dict[str, int | None]:
        return {"sram_bytes": search.sram_bytes, "flash_bytes": search.flash_bytes,
                "macs": search.macs}

    def get_bounds(self, search: Search) -> dict[str, float | None]:
        return {"error": search.bound_error, "sram_bytes": search.bound_sram_bytes,
                "flash_bytes": search.bound_flash_bytes, "macs": search.bound_macs}

    def get_progress(self, search: Search) -> dict[str, Any]:
        from .handlers import elapsed_seconds

        return {"evaluated": search.evaluated, "rounds": search.rounds,
                "fraction": round(search.evaluated / search.rounds, 4) if search.rounds else 0,
                "running": search.running, "queued": search.queued,
                "rejected": search.rejected, "best_error": search.best_error,
                "hypervolume": search.hypervolume,
                "elapsed_seconds": round(elapsed_seconds(search), 3),
                "time_budget_seconds": search.time_budget_seconds}


class SearchCreateSerializer(serializers.Serializer):
    """What a new search needs; hard limits are required, everything else has a default."""

    project = serializers.PrimaryKeyRelatedField(queryset=Project.objects.none())
    name = Name()
    description = Text(max_length=5000, required=False, allow_blank=True, default="")
    dataset = Text(max_length=40, required=False,
                   help_text="default: the project's data set")
    upload = OwnedUploadField(required=False, allow_null=True)
    data_limit = serializers.IntegerField(min_value=1, max_value=MAX_DATA_LIMIT, required=False,
                                          allow_null=True,
                                          help_text="use at most this many samples per split")
    sram_bytes = ByteSize(label="SRAM", help_text="hard limit: bytes, or e.g. '20 KiB'")
    flash_bytes = ByteSize(label="Flash", help_text="hard limit: bytes, or e.g. '64KB'")
    macs = serializers.IntegerField(min_value=1, max_value=MAX_MACS, required=False,
                                    allow_null=True)
    bound_error = Bound(max_value=1.0)
    bound_sram_bytes = Bound(help_text="default: sram_bytes")
    bound_flash_bytes = Bound(help_text="default: flash_bytes")
    bound_macs = Bound(help_text="default: macs")
    strategy = serializers.ChoiceField(choices=["evolution", "random"], default="evolution")
    population = serializers.IntegerField(min_value=1, max_value=MAX_POPULATION, default=20)
    sample = serializers.IntegerField(min_value=1, max_value=MAX_POPULATION, default=5)
    rounds = serializers.IntegerField(min_value=1, max_value=MAX_ROUNDS, default=60,
                                      help_text="budget: candidates to train")
    time_budget_seconds = serializers.IntegerField(min_value=1, max_value=MAX_TIME_BUDGET,
                                                   required=False, allow_null=True)
    profile = Text(max_length=20, default="quick")
    sparsity_min = serializers.FloatField(min_value=0.0, max_value=0.99, required=False)
    sparsity_max = serializers.FloatField(min_value=0.0, max_value=0.99, required=False)
    seed = serializers.IntegerField(min_value=0, max_value=MAX_SEED, default=0)
    inheritance = serializers.BooleanField(
        default=False, help_text="children start from their parent's trained weights and train "
                                 "half the profile's epochs")
    in_flight_target = serializers.IntegerField(min_value=1, max_value=MAX_IN_FLIGHT, default=2)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: field -> messages for accepted but implausible values (set by ``validate``)
        self.warnings: dict[str, list[str]] = {}
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            self.fields["project"].queryset = Project.objects.filter(owner=user)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}
        project: Project = attrs["project"]
        upload = attrs.get("upload")
        dataset = attrs.get("dataset")
        if upload is None and dataset is None and "upload" not in attrs:
            dataset, upload = project.dataset, project.upload
        name, shape, classes = resolve_dataset(dataset, upload)
        attrs.update(dataset=name, upload=upload, input_shape=list(shape), num_classes=classes)
        if attrs["sample"] > attrs["population"]:
            errors["sample"] = [f"must not exceed population ({attrs['population']})"]
        try:
            low, high = profile_sparsity_range(name, attrs["profile"])
        except EngineSetupError as exc:
            raise serializers.ValidationError({exc.field: [str(exc)]}) from None
        attrs.setdefault("sparsity_min", low)
        attrs.setdefault("sparsity_max", high)
        if attrs["sparsity_min"] > attrs["sparsity_max"]:
            errors["sparsity_max"] = ["must not be below sparsity_min"]
        else:
            errors.update(hopeless_limits(name, shape, classes, attrs["sparsity_max"],
                                          attrs["sram_bytes"], attrs["flash_bytes"]))
        self.warnings = implausible_limits(attrs["sram_bytes"], attrs["flash_bytes"])
        attrs.setdefault("bound_sram_bytes", None)
        attrs.setdefault("bound_flash_bytes", None)
        attrs.setdefault("bound_macs", None)
        if attrs["bound_sram_bytes"] is None:
            attrs["bound_sram_bytes"] = float(attrs["sram_bytes"])
        if attrs["bound_flash_bytes"] is None:
            attrs["bound_flash_bytes"] = float(attrs["flash_bytes"])
        if attrs["bound_macs"] is None and attrs.get("macs") is not None:
            attrs["bound_macs"] = float(attrs["macs"])
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class SearchUpdateSerializer(serializers.Serializer):
    """What may change after creation; anything else is refused by name."""

    EDITABLE = ("name", "description", "in_flight_target")

    name = Name(required=False)
    description = Text(max_length=5000, required=False, allow_blank=True)
    in_flight_target = serializers.IntegerField(min_value=1, max_value=MAX_IN_FLIGHT,
                                                required=False)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if hasattr(data, "keys"):
            fixed = sorted(set(data.keys()) - set(self.EDITABLE))
            if fixed:
                raise serializers.ValidationError(
                    {key: ["cannot be changed after the search is created (editable: "
                           f"{', '.join(self.EDITABLE)})"] for key in fixed[:20]})
        return super().to_internal_value(data)


class FinaliseSerializer(serializers.Serializer):
    """Which candidates to retrain with the full profile (default: the feasible front)."""

    candidates = serializers.ListField(
        child=serializers.IntegerField(min_value=0), required=False, allow_empty=False,
        max_length=100, help_text="candidate indices (default: the feasible Pareto front)")
    top = serializers.IntegerField(
        min_value=1, max_value=1000, required=False,
        help_text="only the N most accurate of the feasible front (not with candidates)")

    def validate(self, attrs: dict) -> dict:
        if "candidates" in attrs and "top" in attrs:
            raise serializers.ValidationError(
                {"top": "name candidates or give top, not both"})
        return attrs


class FinaliseResultSerializer(serializers.Serializer):
    queued = serializers.ListField(child=serializers.IntegerField(),
                                   help_text="indices whose final training was queued")


# -- candidates -----------------------------------------------------------------------------


class CandidateSerializer(serializers.ModelSerializer):
    """A candidate in lists: state, flags, objectives and every scalar metric."""

    metrics = serializers.SerializerMethodField(
        help_text="the training report's scalar values (the detail view has all of it)")

    def get_metrics(self, candidate: Candidate) -> dict[str, Any]:
        return {k: v for k, v in (candidate.metrics or {}).items()
                if v is None or isinstance(v, bool | int | float | str)}

    class Meta:
        model = Candidate
        fields = ["index", "state", "sparsity", "parent", "morphism", "pareto", "feasible",
                  "attempts", "error_message", "objectives", "metrics", "timings",
                  *OBJECTIVE_COLUMNS, *METRIC_COLUMNS, *PRECHECK_COLUMNS, "seq", "worker",
                  "heartbeat", "progress"]
        read_only_fields = fields


class ArtifactSerializer(serializers.ModelSerializer):
    class Meta:
        model = Artifact
        fields = ["kind", "size", "sha256", "created_at"]
        read_only_fields = fields


class CandidateDetailSerializer(CandidateSerializer):
    """A candidate with its architecture, pre-training estimates and artifacts."""

    artifacts = ArtifactSerializer(many=True, read_only=True)
    metrics = serializers.JSONField(read_only=True, help_text="the whole training report "
                                                              "(memory timeline excepted)")

    class Meta(CandidateSerializer.Meta):
        fields = [*CandidateSerializer.Meta.fields, "architecture", "precheck", "artifacts"]
        read_only_fields = fields


class CandidatePageSerializer(serializers.Serializer):
    """A page of candidates, with the cursor for the next ``?after=`` read."""

    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    cursor = serializers.IntegerField(help_text="pass as ?after= to get only later changes")
    more = serializers.BooleanField(help_text="with ?after=: more changes are waiting")
    results = CandidateSerializer(many=True)


def _boolean(value: str, field: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes"):
        return True
    if lowered in ("0", "false", "no"):
        return False
    raise serializers.ValidationError({field: ["expected true or false"]})


class CandidateQuerySerializer(serializers.Serializer):
    """Query parameters of the candidate list."""

    state = Text(required=False, help_text="comma-separated: queued,running,done,failed,"
                                            "cancelled")
    pareto = Text(required=False, help_text="true: Pareto front only")
    feasible = Text(required=False, help_text="true: only candidates within the hard limits")
    ordering = Text(required=False, max_length=400,
                    help_text="comma-separated names, '-' for descending: any column "
                              "(e.g. -val_accuracy,tflm_arena_bytes) or metric key")
    after = serializers.IntegerField(required=False, min_value=0, max_value=2**63 - 1,
                                     help_text="only candidates changed after this cursor")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=1000,
                                     help_text="with after: at most this many (default 500)")

    def validate_state(self, value: str) -> list[str]:
        states = [s.strip() for s in value.split(",") if s.strip()]
        bad = [s for s in states if s not in CandidateState.values]
        if bad or not states:
            raise serializers.ValidationError(
                f"unknown state(s) {', '.join(bad[:5]) or value!r}; known: "
                f"{', '.join(CandidateState.values)}")
        return states

    def validate_pareto(self, value: str) -> bool:
        return _boolean(value, "pareto")

    def validate_feasible(self, value: str) -> bool:
        return _boolean(value, "feasible")


class EventQuerySerializer(serializers.Serializer):
    after = serializers.IntegerField(required=False, min_value=0, max_value=2**63 - 1,
                                     default=0)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=1000, default=500)


class SearchEventSerializer(serializers.ModelSerializer):
    type = serializers.CharField(source="kind")
    search = serializers.IntegerField(source="search_id")

    class Meta:
        model = SearchEvent
        fields = ["id", "prev", "search", "type", "created_at", "data"]
        read_only_fields = fields


class TimelineSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    state = serializers.CharField()
    timeline = serializers.JSONField(allow_null=True)
    op_order = serializers.JSONField(allow_null=True)
    peak_memory_bytes = serializers.IntegerField(allow_null=True)
    tflm_arena_bytes = serializers.IntegerField(allow_null=True)
    predicted_sram_bytes = serializers.IntegerField(allow_null=True)


class UsageExampleSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    example = serializers.CharField(help_text="a C++ file, as in the header's top comment")
    header_name = serializers.CharField(allow_null=True,
                                        help_text='the file name it includes ("model.h")')


# -- data sets ------------------------------------------------------------------------------


class UploadedDatasetSerializer(serializers.ModelSerializer):
    class Meta:
        model = UploadedDataset
        fields = ["id", "name", "kind", "size", "quota_bytes", "sha256", "input_shape",
                  "num_classes", "class_names", "options", "summary", "created_at"]
        read_only_fields = fields
        extra_kwargs = {
            "size": {"help_text": "bytes of the stored file as uploaded (compressed)"},
            "quota_bytes": {"help_text": "bytes counted against your upload quota: what the "
                                         "data takes uncompressed (.npz: the arrays, as their "
                                         "headers declare and the data was checked to match; "
                                         "zip: its entries), or the file's size when larger"},
        }


class QuotaSerializer(serializers.Serializer):
    used_bytes = serializers.IntegerField(help_text="the sum of your uploads' quota_bytes")
    limit_bytes = serializers.IntegerField()


class UploadCreateSerializer(serializers.Serializer):
    name = Name()
    file = serializers.FileField(allow_empty_file=False)
    kind = serializers.ChoiceField(choices=DatasetKind.values, required=False,
                                   help_text="default: from the file name (.npz or .zip)")
    image_height = serializers.IntegerField(min_value=1, max_value=512, default=32,
                                            help_text="image zips: images are resized to this")
    image_width = serializers.IntegerField(min_value=1, max_value=512, default=32)
    color_mode = serializers.ChoiceField(choices=["grayscale", "rgb"], default="grayscale")


class ServerDatasetSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    kind = serializers.CharField()
    available = serializers.BooleanField()
    input_shape = serializers.ListField(child=serializers.IntegerField(), allow_null=True)
    num_classes = serializers.IntegerField(allow_null=True)
    class_names = serializers.ListField(child=serializers.CharField())
    install = serializers.CharField(help_text="how to install it on the server, when it is not")


class DatasetListSerializer(serializers.Serializer):
    server = ServerDatasetSerializer(many=True)
    uploads = UploadedDatasetSerializer(many=True)
    quota = QuotaSerializer(help_text="your upload quota (uncompressed bytes)")


class McuPresetSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    mcu = serializers.CharField()
    sram_bytes = serializers.IntegerField()
    flash_bytes = serializers.IntegerField()
    note = serializers.CharField()


# -- accounts -------------------------------------------------------------------------------


class SignupSerializer(serializers.Serializer):
    username = Text(max_length=150)
    password = Text(max_length=128, write_only=True, style={"input_type": "password"},
                    trim_whitespace=False)
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)

    def validate_username(self, value: str) -> str:
        user_model = get_user_model()
        field = user_model._meta.get_field("username")
        try:
            for validator in field.validators:
                validator(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None
        if user_model.objects.filter(username__iexact=value).exists():
            raise serializers.ValidationError("this username is taken")
        return value

    def validate_email(self, value: str) -> str:
        return valid_text(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        user = get_user_model()(username=attrs["username"], email=attrs.get("email", ""))
        try:
            password_validation.validate_password(attrs["password"], user)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": exc.messages}) from None
        return attrs


class CredentialsSerializer(serializers.Serializer):
    """Username and password, checked (token and session log-in)."""

    username = Text(max_length=150)
    password = Text(max_length=128, write_only=True, style={"input_type": "password"},
                    trim_whitespace=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        user = authenticate(request=self.context.get("request"), username=attrs["username"],
                            password=attrs["password"])
        if user is None or not user.is_active:
            raise serializers.ValidationError(
                {"non_field_errors": ["unable to log in with these credentials"]})
        attrs["user"] = user
        return attrs


class UserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField()


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    user = UserSerializer()


class MeSerializer(serializers.Serializer):
    authenticated = serializers.BooleanField()
    user = UserSerializer(allow_null=True)

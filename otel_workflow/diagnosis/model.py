"""The diagnosis's data: frames, an exception chain as data, and the public Diagnosis."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Frame:
    """One frame of a failure (from a live traceback or a parsed stack trace string)."""

    filename: str
    lineno: int
    function: str
    module: str
    source_line: str
    in_app: bool
    locals: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def where(self) -> str:
        return f"{self.filename}:{self.lineno} in {self.function}"


@dataclass(frozen=True)
class ExceptionEntry:
    """One exception of a chain: its type, message and frames (outermost first)."""

    type_name: str  # as recorded: qualified (error.type) or bare (exception.type)
    message: str
    frames: tuple[Frame, ...] = ()

    @property
    def short_type(self) -> str:
        return self.type_name.rsplit(".", 1)[-1]

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type_name, "message": self.message,
                "frames": [f.to_dict() for f in self.frames]}  # fmt: skip


@dataclass(frozen=True)
class ErrorInfo:
    """An error as data: the raised exception first, then its causes (innermost last)."""

    chain: tuple[ExceptionEntry, ...]
    stacktrace: str = ""  # the original text, when parsed from one

    @property
    def top(self) -> ExceptionEntry:
        return self.chain[0]

    @property
    def type_name(self) -> str:
        return self.chain[0].type_name

    @property
    def message(self) -> str:
        return self.chain[0].message

    @property
    def has_stack(self) -> bool:
        return any(e.frames for e in self.chain)

    def causes(self) -> tuple[tuple[str, str], ...]:
        return tuple((e.type_name, e.message) for e in self.chain[1:])

    def root_frame(self) -> Frame | None:
        """The innermost in-app frame of the innermost exception that has one."""
        for entry in reversed(self.chain):
            for frame in reversed(entry.frames):
                if frame.in_app:
                    return frame
        return None


@dataclass
class Frequency:
    """How often a group happened: counts per interval over a window, and the trend."""

    count: int
    first_seen_ns: int | None
    last_seen_ns: int | None
    interval_seconds: float
    buckets: list[int]  # oldest first, the last is the latest interval
    forecast: float  # expected count of the latest interval from the preceding ones
    trend: str  # "new" | "rising" | "steady" | "falling" | "none"
    escalating: bool
    method: str  # how escalating was computed, in words

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EvidenceItem:
    """A value that separates failing from passing runs of a step, with counts."""

    kind: str  # "argument" | "attribute" | "duration"
    key: str
    value: Any
    failures_with: int
    failures: int
    successes_with: int
    successes: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Evidence:
    items: list[EvidenceItem]
    failures: int
    successes: int
    capture_enabled: bool
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"items": [i.to_dict() for i in self.items], "failures": self.failures,
                "successes": self.successes, "capture_enabled": self.capture_enabled,
                "note": self.note}  # fmt: skip


@dataclass
class Suggestion:
    text: str
    evidence: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SimilarGroup:
    fingerprint: str
    score: float
    type_name: str
    template: str
    count: int
    resolution: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Origin:
    """Where a failed workflow's failure started."""

    step: str | None
    execution_id: str | None
    workflow: str | None
    span_id: str | None
    error_type: str | None
    message: str | None
    recovered: list[dict[str, Any]]  # steps that failed and then succeeded on retry
    path: list[str]  # workflow > nested workflow > step

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Diagnosis:
    """Everything known about one failure (see ``ow.diagnose``)."""

    category: str
    retryable: bool
    error_type: str
    message: str
    fingerprint: str
    root_cause: dict[str, Any]
    stack: list[Frame]
    context: dict[str, Any]
    origin: Origin | None = None
    evidence: Evidence | None = None
    suggestions: list[Suggestion] = field(default_factory=list)
    similar: list[SimilarGroup] = field(default_factory=list)
    frequency: Frequency | None = None
    resolution: str | None = None
    template: str = ""
    classification_detail: str = ""
    chain: list[ExceptionEntry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what could not be looked at, and why

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category, "retryable": self.retryable,
            "error_type": self.error_type, "message": self.message,
            "fingerprint": self.fingerprint, "template": self.template,
            "classification": self.classification_detail,
            "root_cause": self.root_cause, "stack": [f.to_dict() for f in self.stack],
            "chain": [e.to_dict() for e in self.chain], "context": self.context,
            "origin": self.origin.to_dict() if self.origin else None,
            "evidence": self.evidence.to_dict() if self.evidence else None,
            "suggestions": [s.to_dict() for s in self.suggestions],
            "similar": [s.to_dict() for s in self.similar],
            "frequency": self.frequency.to_dict() if self.frequency else None,
            "resolution": self.resolution, "notes": self.notes,
        }  # fmt: skip

"""Checking the audit chain: every link, the chain head, and the signed checkpoints.

``verify_chain`` walks the events in order and recomputes each link (HMAC with the key the
event names, or plain SHA-256 for events written before the keyed chain), then holds the
result against every checkpoint file. ``write_checkpoint`` signs a new checkpoint, but only
of a trail that verifies, so a rewritten trail is never vouched for.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from controlpanel.audit_checkpoints import Checkpoint, read_checkpoints, save_checkpoint
from controlpanel.audit_keys import AuditKey, verification_keys
from controlpanel.models import AuditChainHead, AuditEvent

GENESIS = "0" * 64
Algorithm = AuditEvent.Algorithm


@dataclass(frozen=True)
class ChainReport:
    """What ``verify_chain`` found: the events checked, the first broken one, the head.

    ``contradicted`` is the newest checkpoint the trail no longer agrees with, if any.
    """

    checked: int
    broken_event_id: int | None = None
    problem: str = ""
    last_id: int | None = None
    head_hash: str = GENESIS
    legacy_count: int = 0
    checkpoints: list[Checkpoint] = field(default_factory=list)
    contradicted: Checkpoint | None = None

    @property
    def ok(self) -> bool:
        """True when every link holds and every checkpoint agrees."""
        return self.broken_event_id is None and not self.problem


@dataclass
class _Walk:
    """The walk along the chain so far, and the rules each next event must meet."""

    keys: dict[str, AuditKey]
    legacy_allowed: int | None  # plain links the checkpoints allow (None: no checkpoint yet)
    expected_prev: str = GENESIS
    checked: int = 0
    legacy: int = 0
    last_id: int | None = None

    def problem_with(self, event: AuditEvent) -> str:
        """Why ``event`` does not belong where it is, or "" when its link holds."""
        if event.prev_hash != self.expected_prev:
            return "the event before it was removed or changed"
        key: AuditKey | None = None
        if event.algorithm == Algorithm.SHA256:
            if self.legacy < self.checked:
                return "it has a plain SHA-256 link after the keyed chain began"
            if self.legacy_allowed is not None and self.legacy >= self.legacy_allowed:
                return (
                    f"it has a plain SHA-256 link, but the checkpoints recorded only "
                    f"{self.legacy_allowed} such events"
                )
        elif event.algorithm == Algorithm.HMAC_SHA256:
            key = self.keys.get(event.key_id)
            if key is None:
                return f"it was signed with key {event.key_id!r}, which is not in AUDIT_HMAC_KEYS"
        else:
            return f"its link algorithm {event.algorithm!r} is unknown"
        if event.compute_hash(key) != event.hash:
            return "its content was changed after it was written, or its link recomputed"
        return ""

    def accept(self, event: AuditEvent) -> None:
        """Move past an event whose link holds."""
        self.expected_prev = event.hash
        self.checked += 1
        self.legacy += event.algorithm == Algorithm.SHA256
        self.last_id = event.id


def verify_chain(checkpoint_dir: Path | str | None = None) -> ChainReport:
    """Recompute every link in order; report the first edited, removed or reordered event.

    Then the trail must agree with every checkpoint (``AUDIT_CHECKPOINT_DIR`` unless given):
    at least as many events, and the hash each one recorded at its last event.
    """
    checkpoints, unreadable = read_checkpoints(checkpoint_dir)
    at_event: dict[int, list[Checkpoint]] = defaultdict(list)
    for checkpoint in checkpoints:
        if checkpoint.last_id is not None:
            at_event[checkpoint.last_id].append(checkpoint)
    walk = _Walk(verification_keys(), min((c.legacy_count for c in checkpoints), default=None))
    contradicted: list[Checkpoint] = []
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        problem = walk.problem_with(event)
        if problem:
            vouched = [c for c in checkpoints if (c.last_id or 0) >= event.id]
            return _report(walk, checkpoints, event.id, problem, vouched[-1] if vouched else None)
        walk.accept(event)
        for checkpoint in at_event.pop(event.id, []):
            if checkpoint.count != walk.checked or checkpoint.head_hash != event.hash:
                contradicted.append(checkpoint)
    gone = [c for group in at_event.values() for c in group]  # the event they end at is gone
    if contradicted or gone:
        newest = max(contradicted + gone, key=lambda c: (c.count, c.created_at))
        problem = _contradiction(walk, newest, removed=newest in gone)
        return _report(walk, checkpoints, None, problem, newest)
    if unreadable:
        return _report(walk, checkpoints, None, "; ".join(unreadable))
    return _compare_head(walk, checkpoints)


def _contradiction(walk: _Walk, checkpoint: Checkpoint, *, removed: bool) -> str:
    """A sentence on how the trail disagrees with ``checkpoint``."""
    said = (
        f"checkpoint {checkpoint.name} counted {checkpoint.count} events up to event "
        f"{checkpoint.last_id}, {walk.checked} remain"
    )
    if walk.checked == 0:
        return f"all events were removed ({said})"
    if removed or walk.checked < checkpoint.count:
        return f"events were removed, the newest left is event {walk.last_id} ({said})"
    return f"the trail was rewritten up to event {checkpoint.last_id} ({said})"


def _compare_head(walk: _Walk, checkpoints: list[Checkpoint]) -> ChainReport:
    """The chain head row must count the events that remain and name the newest one."""
    head = AuditChainHead.objects.filter(pk=1).first() or AuditChainHead()
    if head.last_hash != walk.expected_prev or head.event_count != walk.checked:
        where = "events after it were removed" if walk.last_id else "all events were removed"
        counts = f"the chain head counts {head.event_count} events, {walk.checked} remain"
        problem = f"{where} ({counts})"
        return _report(walk, checkpoints, walk.last_id, problem)
    return _report(walk, checkpoints, None, "")


def _report(
    walk: _Walk,
    checkpoints: list[Checkpoint],
    broken_event_id: int | None,
    problem: str,
    contradicted: Checkpoint | None = None,
) -> ChainReport:
    return ChainReport(
        checked=walk.checked,
        broken_event_id=broken_event_id,
        problem=problem,
        last_id=walk.last_id,
        head_hash=walk.expected_prev,
        legacy_count=walk.legacy,
        checkpoints=checkpoints,
        contradicted=contradicted,
    )


@dataclass(frozen=True)
class CheckpointResult:
    """What ``write_checkpoint`` did: the verification, and the checkpoint written if any.

    ``checkpoint`` is None when the trail did not verify, and the newest existing one with
    ``written`` False when nothing changed since it.
    """

    report: ChainReport
    checkpoint: Checkpoint | None = None
    written: bool = False


def write_checkpoint(checkpoint_dir: Path | str | None = None) -> CheckpointResult:
    """Verify the trail, then sign its count and head into a new checkpoint file."""
    report = verify_chain(checkpoint_dir)
    if not report.ok:
        return CheckpointResult(report)
    newest = report.checkpoints[-1] if report.checkpoints else None
    if newest and (newest.count, newest.head_hash) == (report.checked, report.head_hash):
        return CheckpointResult(report, newest)
    checkpoint = save_checkpoint(
        checkpoint_dir,
        count=report.checked,
        last_id=report.last_id,
        head_hash=report.head_hash,
        legacy_count=report.legacy_count,
    )
    return CheckpointResult(report, checkpoint, written=True)

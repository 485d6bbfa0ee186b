"""Checking the audit chain: every link, the chain head, and the signed checkpoints.

``verify_chain`` walks the events in order and recomputes each link (HMAC with the key the
event names, or plain SHA-256 for events written before the keyed chain), then holds the
result against every checkpoint file; or, incrementally, checks the newest checkpoint still
holds and walks on from its event. ``write_checkpoint`` signs a new checkpoint, but only
of a trail that verifies, so a rewritten trail is never vouched for.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controlpanel.audit_checkpoints import Checkpoint, read_checkpoints, save_checkpoint
from controlpanel.audit_keys import AuditKey, verification_keys
from controlpanel.models import AuditChainHead, AuditEvent
from controlpanel.models.audit import HASHED_FIELDS, hashed_content, link_hash
from controlpanel.selectors.rows import plain_rows

GENESIS = "0" * 64
Algorithm = AuditEvent.Algorithm
# Events read per query while verifying.
BATCH_SIZE = 5000
_LINK_COLUMNS = ("id", "prev_hash", "hash", "algorithm", "key_id", *HASHED_FIELDS)


@dataclass(frozen=True)
class ChainReport:
    """What ``verify_chain`` found: the events checked, the first broken one, the head.

    ``contradicted`` is the newest checkpoint the trail no longer agrees with, if any.
    ``resumed_from`` is the checkpoint an incremental check started at (None: from the
    first event); ``recomputed`` counts the links this check recomputed.
    """

    checked: int
    broken_event_id: int | None = None
    problem: str = ""
    last_id: int | None = None
    head_hash: str = GENESIS
    legacy_count: int = 0
    checkpoints: list[Checkpoint] = field(default_factory=list)
    contradicted: Checkpoint | None = None
    resumed_from: Checkpoint | None = None
    recomputed: int = 0

    @property
    def ok(self) -> bool:
        """True when every link holds and every checkpoint agrees."""
        return self.broken_event_id is None and not self.problem


@dataclass(frozen=True)
class StoredLink:
    """One stored event as verification reads it: its link and the content the link covers."""

    id: int
    prev_hash: str
    hash: str
    algorithm: str
    key_id: str
    content: dict[str, Any]

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> StoredLink:
        """From a row of ``_LINK_COLUMNS``."""
        content = hashed_content(dict(zip(HASHED_FIELDS, row[5:], strict=True)))
        return cls(row[0], row[1], row[2], row[3], row[4], content)

    def recomputed(self, key: AuditKey | None) -> str:
        """The link as the chain code makes it (``AuditEvent.compute_hash``)."""
        return link_hash(self.prev_hash, self.algorithm, self.key_id, self.content, key)


def stored_links(after_id: int = 0) -> Iterator[StoredLink]:
    """Every event after ``after_id`` in id order, read in keyset batches as plain rows."""
    while True:
        after = AuditEvent.objects.filter(id__gt=after_id).order_by("id")
        rows = plain_rows(after.values_list(*_LINK_COLUMNS)[:BATCH_SIZE])
        yield from map(StoredLink.from_row, rows)
        if len(rows) < BATCH_SIZE:
            return
        after_id = rows[-1][0]


@dataclass
class _Walk:
    """The walk along the chain so far, and the rules each next event must meet."""

    keys: dict[str, AuditKey]
    legacy_allowed: int | None  # plain links the checkpoints allow (None: no checkpoint yet)
    expected_prev: str = GENESIS
    checked: int = 0
    legacy: int = 0
    last_id: int | None = None
    recomputed: int = 0

    def problem_with(self, event: StoredLink) -> str:
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
        if event.recomputed(key) != event.hash:
            return "its content was changed after it was written, or its link recomputed"
        return ""

    def accept(self, event: StoredLink) -> None:
        """Move past an event whose link holds."""
        self.expected_prev = event.hash
        self.checked += 1
        self.legacy += event.algorithm == Algorithm.SHA256
        self.last_id = event.id
        self.recomputed += 1


def verify_chain(checkpoint_dir: Path | str | None = None, *, full: bool = True) -> ChainReport:
    """Recompute the links in order; report the first edited, removed or reordered event.

    ``full``: every link from the first event, and the trail must agree with every
    checkpoint (``AUDIT_CHECKPOINT_DIR`` unless given): at least as many events, and the
    hash each one recorded at its last event. Otherwise, from the newest checkpoint: its
    event must still be there with the hash, link and count it recorded, and every link
    after it must hold; what came before was verified when that checkpoint was written.
    """
    checkpoints, unreadable = read_checkpoints(checkpoint_dir)
    walk = _Walk(verification_keys(), min((c.legacy_count for c in checkpoints), default=None))
    start = None if full or not checkpoints else checkpoints[-1]
    if start is not None and start.last_id is not None:
        broken = _resume(walk, start)
        if broken is not None:
            return _report(walk, checkpoints, *broken, contradicted=start, resumed_from=start)
    at_event: dict[int, list[Checkpoint]] = defaultdict(list)
    for checkpoint in checkpoints if start is None else []:
        if checkpoint.last_id is not None:
            at_event[checkpoint.last_id].append(checkpoint)
    contradicted: list[Checkpoint] = []
    for event in stored_links(walk.last_id or 0):
        problem = walk.problem_with(event)
        if problem:
            vouched = [c for c in checkpoints if (c.last_id or 0) >= event.id]
            newest = vouched[-1] if vouched else None
            return _report(walk, checkpoints, event.id, problem, newest, resumed_from=start)
        walk.accept(event)
        for checkpoint in at_event.pop(event.id, []):
            if checkpoint.count != walk.checked or checkpoint.head_hash != event.hash:
                contradicted.append(checkpoint)
    gone = [c for group in at_event.values() for c in group]  # the event they end at is gone
    if contradicted or gone:
        newest = max(contradicted + gone, key=lambda c: (c.count, c.created_at))
        problem = _contradiction(newest, walk.checked, walk.last_id, removed=newest in gone)
        return _report(walk, checkpoints, None, problem, newest)
    if unreadable:
        return _report(walk, checkpoints, None, "; ".join(unreadable), resumed_from=start)
    return _compare_head(walk, checkpoints, start)


def _resume(walk: _Walk, checkpoint: Checkpoint) -> tuple[int | None, str] | None:
    """Start ``walk`` at ``checkpoint``'s event, or say how the trail contradicts it.

    Its event must be there with the hash recorded, a link that holds, and as many events
    up to it as counted. Returns (broken event id or None, problem) when not.
    """
    last_id = checkpoint.last_id or 0
    row = AuditEvent.objects.filter(id=last_id).values_list(*_LINK_COLUMNS).first()
    if row is None:
        newest = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
        remain = AuditEvent.objects.count()
        return None, _contradiction(checkpoint, remain, newest, removed=True)
    event = StoredLink.from_row(row)
    if event.hash != checkpoint.head_hash:
        return last_id, (
            f"its hash is not the one checkpoint {checkpoint.name} recorded for it: the trail "
            "was rewritten up to here"
        )
    walk.expected_prev = event.prev_hash
    walk.checked = checkpoint.count - 1
    walk.legacy = checkpoint.legacy_count - (event.algorithm == Algorithm.SHA256)
    problem = walk.problem_with(event)
    if problem:
        return last_id, problem
    walk.accept(event)
    counted = AuditEvent.objects.filter(id__lte=last_id).count()
    if counted != checkpoint.count:
        what = "removed" if counted < checkpoint.count else "added"
        return None, (
            f"events up to event {last_id} were {what} (checkpoint {checkpoint.name} counted "
            f"{checkpoint.count} events up to it, {counted} are there)"
        )
    return None


def _contradiction(
    checkpoint: Checkpoint, remain: int, newest_left: int | None, *, removed: bool
) -> str:
    """A sentence on how the trail disagrees with ``checkpoint``."""
    said = (
        f"checkpoint {checkpoint.name} counted {checkpoint.count} events up to event "
        f"{checkpoint.last_id}, {remain} remain"
    )
    if remain == 0:
        return f"all events were removed ({said})"
    if removed or remain < checkpoint.count:
        return f"events were removed, the newest left is event {newest_left} ({said})"
    return f"the trail was rewritten up to event {checkpoint.last_id} ({said})"


def _compare_head(
    walk: _Walk, checkpoints: list[Checkpoint], start: Checkpoint | None
) -> ChainReport:
    """The chain head row must count the events that remain and name the newest one."""
    head = AuditChainHead.objects.filter(pk=1).first() or AuditChainHead()
    if head.last_hash != walk.expected_prev or head.event_count != walk.checked:
        where = "events after it were removed" if walk.last_id else "all events were removed"
        counts = f"the chain head counts {head.event_count} events, {walk.checked} remain"
        problem = f"{where} ({counts})"
        return _report(walk, checkpoints, walk.last_id, problem, resumed_from=start)
    return _report(walk, checkpoints, None, "", resumed_from=start)


def _report(
    walk: _Walk,
    checkpoints: list[Checkpoint],
    broken_event_id: int | None,
    problem: str,
    contradicted: Checkpoint | None = None,
    resumed_from: Checkpoint | None = None,
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
        resumed_from=resumed_from,
        recomputed=walk.recomputed,
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


def write_checkpoint(
    checkpoint_dir: Path | str | None = None, *, full: bool = False
) -> CheckpointResult:
    """Verify the trail, then sign its count and head into a new checkpoint file.

    The check goes on from the newest checkpoint unless ``full``: a periodic checkpoint
    reads only what was written since the last one.
    """
    report = verify_chain(checkpoint_dir, full=full)
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

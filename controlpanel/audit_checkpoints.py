"""Signed checkpoints of the audit trail, kept as files outside the database.

A checkpoint says "the trail had ``count`` events, the newest was ``last_id`` with hash
``head_hash``, ``legacy_count`` of them with plain SHA-256 links", signed with the audit HMAC
key. Someone who wipes or shortens the trail in the database cannot take back what the
checkpoints already say, so ``verify_audit`` reports the newest checkpoint the trail
contradicts. Files are written once (exclusive create, read-only afterwards) and never
changed; keep the directory on storage the database's writers cannot reach.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.utils import timezone

from controlpanel.audit_keys import signing_key, verification_keys

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Checkpoint:
    """What the trail looked like at one moment, signed by the key ``key_id`` names."""

    count: int
    last_id: int | None
    head_hash: str
    legacy_count: int
    created_at: str
    key_id: str
    signature: str = ""
    path: Path | None = field(default=None, compare=False)

    def signed_text(self) -> str:
        """The canonical text the signature covers (everything but the signature)."""
        content = asdict(self)
        for unsigned in ("signature", "path"):
            content.pop(unsigned)
        content["version"] = FORMAT_VERSION
        return json.dumps(content, sort_keys=True, separators=(",", ":"))

    @property
    def name(self) -> str:
        """How reports name it: the file name and the time it was written."""
        return f"{self.path.name if self.path else '(unsaved)'} of {self.created_at}"


def checkpoint_directory(directory: Path | str | None = None) -> Path:
    """The directory given, or ``AUDIT_CHECKPOINT_DIR``."""
    from django.conf import settings

    return Path(directory if directory is not None else settings.AUDIT_CHECKPOINT_DIR)


def read_checkpoints(directory: Path | str | None = None) -> tuple[list[Checkpoint], list[str]]:
    """Every checkpoint whose signature holds, oldest first, and a sentence per bad file.

    A file that cannot be read, is not signed by a listed key, or whose signature does not
    match is a problem, never silently skipped: it was damaged or forged.
    """
    folder = checkpoint_directory(directory)
    if not folder.is_dir():
        return [], []
    keys = verification_keys()
    checkpoints: list[Checkpoint] = []
    problems: list[str] = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            data.pop("version", None)
            checkpoint = Checkpoint(**data, path=path)
        except (OSError, ValueError, TypeError) as exc:
            problems.append(f"checkpoint {path.name} cannot be read ({exc})")
            continue
        key = keys.get(checkpoint.key_id)
        if key is None:
            problems.append(
                f"checkpoint {path.name} was signed with key {checkpoint.key_id!r}, "
                "which is not in AUDIT_HMAC_KEYS"
            )
        elif key.sign(checkpoint.signed_text()) != checkpoint.signature:
            problems.append(f"checkpoint {path.name} does not match its signature")
        else:
            checkpoints.append(checkpoint)
    checkpoints.sort(key=lambda c: (c.count, c.created_at))
    return checkpoints, problems


def save_checkpoint(
    directory: Path | str | None,
    *,
    count: int,
    last_id: int | None,
    head_hash: str,
    legacy_count: int,
    now: datetime | None = None,
) -> Checkpoint:
    """Sign and write one new checkpoint file; an existing file is never overwritten."""
    key = signing_key()
    created = (now or timezone.now()).astimezone(UTC)
    unsigned = Checkpoint(count, last_id, head_hash, legacy_count, created.isoformat(), key.key_id)
    folder = checkpoint_directory(directory)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{created:%Y%m%dT%H%M%S%fZ}-{count:010d}.json"
    checkpoint = Checkpoint(
        **{**asdict(unsigned), "signature": key.sign(unsigned.signed_text()), "path": path}
    )
    body: dict[str, Any] = {"version": FORMAT_VERSION, **asdict(checkpoint)}
    body.pop("path")
    with open(path, "x", encoding="utf-8") as handle:  # "x": fails rather than overwrite
        handle.write(json.dumps(body, sort_keys=True, indent=1) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    path.chmod(0o440)
    return checkpoint

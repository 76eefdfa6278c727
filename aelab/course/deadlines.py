"""Due dates, late penalties and extensions, on nbgrader's own mechanisms.

``aelab grade ... --deadlines deadlines.toml`` reads::

    [policy]
    late_penalty = "per_hour:1"      # "none", "zero", or "per_hour:P" (P points per started hour late)
    timezone = "Europe/Berlin"       # the zone of due dates written without one; default UTC

    [due]
    01_autoencoder_basics = "2026-12-10 23:59"
    03_mnist_outlier_lab = "2026-12-17T23:59:00+01:00"

    [extensions.ann]                 # hours, per student and assignment
    01_autoencoder_basics = 48

The due dates go into the (scratch) gradebook's assignments and the extensions through
``Gradebook.grant_extension``; a submission's time is its ``timestamp.txt`` (nbgrader's exchange
writes it, ``aelab collect`` writes it from the LMS zip; a time without a zone is UTC, as nbgrader
reads it). nbgrader's autograde then computes how
late each submission is and asks the late-submission plugin (:class:`LatePenalty`, a
``nbgrader.plugins.LateSubmissionPlugin``) for the penalty, which the gradebook subtracts
(never below 0). The report shows lateness and penalty per submission.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Float, Unicode

__all__ = ["Deadlines", "LatePenalty", "read_deadlines"]


class LatePenalty(LateSubmissionPlugin):
    """``none``, ``zero`` (nbgrader's own), or ``per_hour``: ``points_per_hour`` per started hour late."""

    policy = Unicode("none", help="none, zero or per_hour").tag(config=True)
    points_per_hour = Float(0.0, help="points taken per started hour late (policy per_hour)").tag(config=True)

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float):
        if total_seconds_late <= 0 or self.policy == "none":
            return None
        if self.policy == "zero":
            return score
        return min(score, self.points_per_hour * math.ceil(total_seconds_late / 3600.0))


@dataclass
class Deadlines:
    due: dict[str, dt.datetime] = field(default_factory=dict)  # assignment -> due date (aware, UTC)
    extensions: dict[tuple[str, str], float] = field(default_factory=dict)  # (student, assignment) -> hours
    policy: str = "none"
    points_per_hour: float = 0.0
    timezone: str = "UTC"

    def configure(self, cfg) -> None:
        """Point nbgrader's autograde at :class:`LatePenalty` with this policy."""
        cfg.AssignLatePenalties.plugin_class = LatePenalty
        cfg.LatePenalty.policy = self.policy
        cfg.LatePenalty.points_per_hour = float(self.points_per_hour)

    def apply(self, db_url: str, keys, *, clear_others: bool = True) -> None:
        """Due dates and extensions into a gradebook, for the ``(student, assignment)`` about to be
        recorded: the due dates of the other assignments and extensions not in the file are cleared
        (a scratch gradebook outlives one run). ``clear_others=False`` (a class's own gradebook):
        an assignment the file gives no due date keeps the one it has."""
        import warnings

        from nbgrader.api import Gradebook, MissingEntry

        with warnings.catch_warnings(), Gradebook(db_url) as gb:
            warnings.simplefilter("ignore")  # SQLAlchemy's session warnings inside nbgrader: noise, not news
            for a in gb.assignments:
                due = self.due.get(a.name)
                if due is not None or clear_others:
                    a.duedate = due.astimezone(dt.UTC).replace(tzinfo=None) if due else None
            gb.db.commit()
            for student, assignment in keys:
                if not clear_others and assignment not in self.due:
                    continue  # the file says nothing of this assignment: its extensions stay as they are
                hours = self.extensions.get((student, assignment))
                if hours:
                    gb.update_or_create_student(student)
                    gb.update_or_create_submission(assignment, student)  # nbgrader keeps extensions there
                    gb.grant_extension(assignment, student, hours=hours)
                else:
                    try:
                        gb.grant_extension(assignment, student)  # no time given: any old extension removed
                    except MissingEntry:
                        pass


def _zone(name: str) -> dt.tzinfo:
    if name.upper() == "UTC":
        return dt.UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"--deadlines: unknown timezone {name!r} (e.g. 'UTC' or 'Europe/Berlin')") from exc


def _time(value, zone: dt.tzinfo, where: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValueError(
                f"--deadlines: {where} = {value!r} is not a date and time like '2026-12-10 23:59'"
            ) from exc
    else:
        raise ValueError(f"--deadlines: {where} must be a date and time in quotes, not {type(value).__name__}")
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(dt.UTC)


def read_deadlines(path: Path | None) -> Deadlines | None:
    """The deadlines file (None without one); every mistake refused with what was expected."""
    from . import registry

    if path is None:
        return None
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--deadlines: no file {path}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"--deadlines: {path} is not valid TOML ({exc})") from exc
    unknown = sorted(set(data) - {"policy", "due", "extensions"})
    if unknown:
        raise ValueError(f"--deadlines: unknown sections {', '.join(unknown)}; known: policy, due, extensions")
    policy = data.get("policy", {})
    zone = _zone(str(policy.get("timezone", "UTC")))
    text = str(policy.get("late_penalty", "none")).strip()
    found = re.fullmatch(r"(none|zero)|per_hour:(\d+(?:\.\d+)?)", text)
    if not found:
        raise ValueError(f"--deadlines: late_penalty = {text!r}; expected 'none', 'zero' or 'per_hour:P' (P points)")
    names = registry.names()
    due = {}
    for a, value in data.get("due", {}).items():
        if a not in names:
            raise ValueError(f"--deadlines: [due] names {a!r}, not an assignment of the course ({', '.join(names)})")
        due[a] = _time(value, zone, f"due.{a}")
    extensions = {}
    for student, per in data.get("extensions", {}).items():
        if not isinstance(per, dict):
            raise ValueError(f"--deadlines: [extensions.{student}] must map assignments to hours")
        for a, hours in per.items():
            if a not in due:
                raise ValueError(f"--deadlines: extension of {student} for {a!r}, which has no due date")
            if not isinstance(hours, int | float) or hours < 0:
                raise ValueError(f"--deadlines: extensions.{student}.{a} = {hours!r}; expected hours, a number >= 0")
            extensions[student, a] = float(hours)
    return Deadlines(
        due,
        extensions,
        policy="per_hour" if found.group(2) else found.group(1),
        points_per_hour=float(found.group(2) or 0.0),
        timezone=str(policy.get("timezone", "UTC")),
    )

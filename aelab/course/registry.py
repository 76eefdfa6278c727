"""The course registry: the one place that lists the assignments, their labs, exercises and checks.

Everything that needs to know which labs exist (build, grading, the classroom, the graders, the
tests, the bench scripts) reads it from here. Adding a lab is a new :class:`Assignment` below plus
the lab's own files (``source/<name>/<name>.ipynb`` and ``autograder/<lab>.py``), see
``docs/authoring.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Exercise",
    "Assignment",
    "ASSIGNMENTS",
    "assignment",
    "assignment_of",
    "course_root",
    "check_ids",
    "names",
    "labs",
]


@dataclass(frozen=True)
class Exercise:
    """A function the learner writes, the ids of the checks that grade it (in notebook order), and
    the other exercises' functions it may call (graded with the course's versions of those)."""

    name: str
    checks: tuple[str, ...]
    uses: tuple[str, ...] = ()


@dataclass(frozen=True)
class Assignment:
    """One assignment: its folder and notebook name, its lab id (the grader module) and exercises."""

    name: str
    lab: str
    title: str
    exercises: tuple[Exercise, ...]

    @property
    def notebook(self) -> str:
        """The notebook's file name (one notebook per assignment, named like its folder)."""
        return f"{self.name}.ipynb"

    @property
    def number(self) -> str:
        """The two-digit prefix, ``"03"``."""
        return self.name.split("_", 1)[0]

    def exercise(self, name: str) -> Exercise:
        for ex in self.exercises:
            if ex.name == name:
                return ex
        raise KeyError(f"{self.name} has no exercise {name!r}; it has {[e.name for e in self.exercises]}")

    def check_ids(self) -> list[str]:
        """Full check ids, ``"lab03.detect_outlier.ties"``, in notebook order."""
        return [f"{self.lab}.{ex.name}.{c}" for ex in self.exercises for c in ex.checks]

    def source_path(self, root: Path) -> Path:
        return Path(root) / "source" / self.name / self.notebook


def _ex(name: str, *checks: str, uses: tuple[str, ...] = ()) -> Exercise:
    return Exercise(name, tuple(checks), tuple(uses))


ASSIGNMENTS: tuple[Assignment, ...] = (
    Assignment(
        "01_autoencoder_basics",
        "lab01",
        "Autoencoder basics",
        (
            _ex("beta_vae_loss", "shape", "reconstruction", "kl", "beta"),
            _ex("reconstruction_error", "shape", "mse", "l1", "bce", "unknown_kind"),
            _ex("normalized_scores", "values", "training_range", "edge_cases"),
        ),
    ),
    Assignment(
        "02_iris_vae",
        "lab02",
        "A VAE on iris",
        (
            _ex("reparameterize", "shape", "statistics", "gradients", "stochastic"),
            _ex("kl_divergence", "shape", "values", "properties", "gradients"),
            _ex("latent_log_density", "shape", "values", "constants"),
        ),
    ),
    Assignment(
        "03_mnist_outlier_lab",
        "lab03",
        "MNIST outlier lab",
        (
            _ex("reconstruction_loss", "shape", "values", "image_shapes", "single", "perturbed"),
            _ex("compute_threshold", "returns_number", "default", "fraction", "median", "equal_losses"),
            _ex("detect_outlier", "single", "batch", "ties", "perturbed", uses=("reconstruction_loss",)),
        ),
    ),
    Assignment(
        "04_leave_one_digit_auroc",
        "lab04",
        "Leave-one-digit-out AUROC",
        (
            _ex("anomaly_scores", "shape", "values", "batch_independent"),
            _ex("auroc_per_digit", "keys", "values", "ties"),
        ),
    ),
)


def names() -> tuple[str, ...]:
    """Assignment names in course order."""
    return tuple(a.name for a in ASSIGNMENTS)


def labs() -> tuple[str, ...]:
    """Lab ids in course order (``"lab01"`` ...)."""
    return tuple(a.lab for a in ASSIGNMENTS)


def assignment(key: str) -> Assignment:
    """The assignment named ``key`` (``"03_mnist_outlier_lab"``) or with lab id ``key`` (``"lab03"``)."""
    for a in ASSIGNMENTS:
        if key in (a.name, a.lab):
            return a
    raise KeyError(f"unknown assignment {key!r}; expected one of {', '.join(names())} or {', '.join(labs())}")


def assignment_of(path: str | os.PathLike) -> Assignment:
    """The assignment a notebook belongs to, from its file name or one of its folders' names.

    An exact name wins (``03_mnist_outlier_lab.ipynb``); otherwise the two-digit prefix of the
    file or of the nearest folder (``03_my_copy.ipynb``, ``.../03_mnist_outlier_lab/x.ipynb``).
    """
    p = Path(path)
    parts = (p.stem, *reversed(p.parent.parts))
    for part in parts:
        for a in ASSIGNMENTS:
            if part == a.name:
                return a
    for part in parts:
        for a in ASSIGNMENTS:
            if part.startswith(a.number + "_"):
                return a
    raise ValueError(
        f"cannot tell which assignment {p} belongs to; name it like one of {', '.join(a.notebook for a in ASSIGNMENTS)}"
    )


def check_ids(lab: str | None = None) -> list[str]:
    """Every check id of one lab (or of the whole course), in course order."""
    chosen = [assignment(lab)] if lab else ASSIGNMENTS
    return [cid for a in chosen for cid in a.check_ids()]


def course_root() -> Path:
    """The course directory: ``$AELAB_COURSE_DIR``, else the checkout that holds this package."""
    env = os.environ.get("AELAB_COURSE_DIR")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve().parents[2]
    if (here / "source").is_dir():
        return here
    raise FileNotFoundError(
        "cannot find the course's source/ folder: run from a checkout of the repository or set $AELAB_COURSE_DIR"
    )

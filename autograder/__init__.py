"""Graders of the aelab course (instructors' side).

Grade cells in the source notebooks call ``autograder.check("lab03.detect_outlier.ties",
detect_outlier)``; ``pytest autograder --submission NOTEBOOK`` runs the same checks against one
notebook; ``aelab check`` and ``aelab grade`` build on both.
"""

from .core import GradingError, all_checks, check, check_ids, failed_checks, grader

__all__ = ["check", "all_checks", "check_ids", "failed_checks", "grader", "GradingError"]

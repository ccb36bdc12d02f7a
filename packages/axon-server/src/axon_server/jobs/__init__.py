"""Training jobs: submissions checked (:mod:`.spec`) and run in worker processes (:mod:`.runner`)."""

from __future__ import annotations

from .runner import TERMINAL, JobRunner
from .spec import JobSpec, check_submission

__all__ = ["TERMINAL", "JobRunner", "JobSpec", "check_submission"]

"""Studies (Qt-free): a small grid of ordinary runs, the claim it tests, and a report with a computed verdict.

study = load_study("position_embeddings")      # a packaged study, or a .toml file
StudyRunner(study, "cpu", runs_dir).run()      # trains what is missing; resumable
write_report(study, "cpu", runs_dir, "out/")    # Markdown + PNG, one verdict per claim
"""

from .report import Results, results, summary_line, verdicts, write_report
from .runner import Job, StudyRunner, job_state, next_job, plan, prepare, study_runs
from .spec import BUDGETS, DEFAULT_BUDGET, Arm, Study, StudyError, list_studies, load_study, parse_study
from .verdict import HELD, INCONCLUSIVE, NO_RESULT, NOT_HELD, Claim, Verdict, evaluate, parse_claim

__all__ = [
    "BUDGETS",
    "DEFAULT_BUDGET",
    "HELD",
    "INCONCLUSIVE",
    "NOT_HELD",
    "NO_RESULT",
    "Arm",
    "Claim",
    "Job",
    "Results",
    "Study",
    "StudyError",
    "StudyRunner",
    "Verdict",
    "evaluate",
    "job_state",
    "list_studies",
    "load_study",
    "next_job",
    "parse_claim",
    "parse_study",
    "plan",
    "prepare",
    "results",
    "study_runs",
    "summary_line",
    "verdicts",
    "write_report",
]

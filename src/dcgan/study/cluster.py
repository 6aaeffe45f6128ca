"""Study cells as scheduler jobs through submitit (``--launcher slurm``), or its local executor (``submitit-local``).

Scheduling is submitit's: each unfinished cell becomes one job (a Slurm job array when ``slurm``) that runs
:func:`dcgan.study.train_cell` where the scheduler puts it; submitit pickles the call, writes each job's
logs under ``OUT/submitit/`` and brings back the cell record. The study folder must be on storage the jobs
see (a shared file system on a cluster). ``submitit-local`` runs the same path as local processes, which
is how the tests (and a user without a cluster) exercise it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dcgan.errors import UserError
from dcgan.settings.study import StudySettings


def _executor(s: StudySettings, folder: Path) -> Any:
    try:
        import submitit
    except ImportError:
        raise UserError(f"--launcher {s.launcher} needs submitit: pip install 'dcgan[cluster]' (or pip install submitit)") from None
    if s.launcher == "submitit-local":
        executor = submitit.LocalExecutor(folder=str(folder))
        executor.update_parameters(timeout_min=s.timeout_min)
        return executor
    executor = submitit.AutoExecutor(folder=str(folder), cluster="slurm")
    params: dict[str, Any] = {"timeout_min": s.timeout_min, "cpus_per_task": s.cpus_per_job, "slurm_array_parallelism": s.parallel,
                              "name": "dcgan-study"}
    if s.gpus_per_job:
        params["gpus_per_node"] = s.gpus_per_job
    if s.slurm_partition:
        params["slurm_partition"] = s.slurm_partition
    executor.update_parameters(**params)
    return executor


def run_with_submitit(s: StudySettings, jobs: list[tuple[str, int]]) -> list[dict[str, Any]]:
    """Run every unfinished (entry, seed) cell as a submitit job; return all cell records in ``jobs`` order."""
    from dcgan.study import CELL_FILE, cell_dir, train_cell

    out = Path(s.out)
    todo = [job for job in jobs if not (cell_dir(out, *job) / CELL_FILE).exists()]
    records: dict[tuple[str, int], dict[str, Any]] = {}
    if todo:
        executor = _executor(s, out / "submitit")
        threads = s.cpus_per_job if s.launcher == "slurm" else 1
        # Local executor: waves of --parallel jobs, so a laptop is not asked to train every cell at once;
        # on Slurm the array's parallelism limit (slurm_array_parallelism) does that.
        waves = [todo] if s.launcher == "slurm" else [todo[i : i + s.parallel] for i in range(0, len(todo), s.parallel)]
        for wave in waves:
            with executor.batch():
                submitted = [(job, executor.submit(train_cell, s, job[0], job[1], threads)) for job in wave]
            for job, handle in submitted:
                try:
                    records[job] = handle.result()
                except UserError:
                    raise
                except Exception as exc:  # submitit's FailedJobError and friends carry the job's traceback
                    first = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
                    raise UserError(f"cell {job[0]} seed {job[1]} failed as job {handle.job_id}: {first}; its log: {handle.paths.stderr}") from None
    # Finished cells (and those just trained) are read back by the ordinary path, which checks their settings.
    return [records.get(job) or train_cell(s, job[0], job[1], 1) for job in jobs]

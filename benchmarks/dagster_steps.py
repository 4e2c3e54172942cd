"""Print, as JSON, the runs recorded under a DAGSTER_HOME with each step's duration.

Run as a script after the timed runs, so importing Dagster here costs the benchmark nothing:
``python benchmarks/dagster_steps.py DAGSTER_HOME``. Runs are listed oldest first.
"""

from __future__ import annotations

import json
import sys
import warnings


def runs(home: str) -> list[dict[str, object]]:
    import dagster as dg

    warnings.simplefilter("ignore")
    out = []
    with dg.DagsterInstance.from_config(home) as instance:
        for run in reversed(instance.get_runs()):
            stats = instance.get_run_stats(run.run_id)
            done = [s for s in instance.get_run_step_stats(run.run_id) if s.start_time and s.end_time]
            steps = {s.step_key: round(s.end_time - s.start_time, 2) for s in done}
            spans = {s.step_key: [s.start_time, s.end_time] for s in done}
            out.append(
                {
                    "run_id": run.run_id,
                    "status": run.status.value,
                    "run_s": round((stats.end_time or 0) - (stats.start_time or 0), 2),
                    "steps_s": steps,
                    "step_spans": spans,  # [start, end] as Unix times
                }
            )
    return out


if __name__ == "__main__":
    print(json.dumps(runs(sys.argv[1])))

"""The code location for ``dagster dev`` and deployments (``[tool.dagster] module_name``).

PIPELINE_EXECUTOR picks the executor per deployment (in_process by default; multiprocess,
celery, celery_k8s or k8s where the matching dagster-* package is installed): the one
setting read when the code location loads. Folders are read when a run starts.
"""

import os

from pipeline.defs import build_definitions

defs = build_definitions(executor_name=os.environ.get("PIPELINE_EXECUTOR"))

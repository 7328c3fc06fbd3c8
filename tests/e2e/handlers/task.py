"""An ECS task's command: reads the job from $PIE_JOB, logs, and prints its result last.

The job's input says how it ends: ``exit_code`` (with an error printed first), ``garbage``
(a last line that is not JSON), ``sleep`` (seconds, before succeeding), else success with
``rows`` counted.
"""

from __future__ import annotations

import json
import os
import sys
import time

job = json.loads(os.environ["PIE_JOB"])
settings = job["input"]
print(f"starting job {job['job_id']}")
print("progress: 50%", file=sys.stderr)
if "exit_code" in settings:
    print(json.dumps({"reason": "disk full", "job_id": job["job_id"]}))
    sys.exit(settings["exit_code"])
if settings.get("garbage"):
    print("done, no JSON today")
    sys.exit(0)
time.sleep(settings.get("sleep", 0))
print(json.dumps({"rows": settings["rows"], "job_id": job["job_id"], "action": job["action"]}))

"""A stand-in slurmrestd on 127.0.0.1 (an http.server in a thread) with the shapes of Slurm 22.05's
v0.0.38 plugin: 401 "Authentication failure" without token headers, 500 with errors for a token
slurmctld refuses, the /openapi/v3 paths captured from 22.05.8, job submit/get/delete, the job
list, and the slurmdbd job endpoints. ``version="0.0.39"`` serves a 23.02-style server instead
(environment as a list, numbers as {"set", "number"} objects)."""

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "slurmrestd", "openapi_v3_22.05.json")
META = {"plugin": {"type": "openapi/v0.0.38", "name": "Slurm OpenAPI v0.0.38"},
        "Slurm": {"version": {"major": 22, "micro": 8, "minor": 5}, "release": "22.05.8"}}
# slurmdbd's answer (HTTP 200) to a job query that matches nothing.
NOTHING_FOUND = {"description": "Nothing found", "error_number": 9003, "error": "Nothing found with query",
                 "source": "slurmdb_jobs_get"}
GOOD_TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjQxMDI0NDQ4MDAsImlhdCI6MTcwMDAwMDAwMCwic3VuIjoiZWMyLXVzZXIifQ.c2lnbmF0dXJl"  # noqa: E501  (sun=ec2-user, exp=2100)


class FakeSlurmrestd:
    def __init__(self, version="0.0.38", token=GOOD_TOKEN):
        self.version = version
        self.token = token
        self.jobs = {}
        self.history = {}
        self.requests = []
        self.next_id = 100
        self.submit_errors = None
        with open(FIXTURE) as handle:
            spec = json.load(handle)
        if version != "0.0.38":
            spec["paths"] = {p.replace("v0.0.38", "v" + version): v for p, v in spec["paths"].items()
                             if "v0.0.38" in p}
        self.spec = spec
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status, payload):
                body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _route(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                fake.requests.append((method, self.path, {k.upper(): v for k, v in self.headers.items()}, body))
                status, payload = fake.handle(method, urlparse(self.path), self.headers, body)
                self._answer(status, payload)

            def do_GET(self):
                self._route("GET")

            def do_POST(self):
                self._route("POST")

            def do_DELETE(self):
                self._route("DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    # what slurmrestd answers ------------------------------------------------------------------

    def handle(self, method, url, headers, body):
        if not headers.get("X-SLURM-USER-NAME") or not headers.get("X-SLURM-USER-TOKEN"):
            return 401, b"Authentication failure"
        if url.path == "/openapi/v3":
            return 200, self.spec
        meta = dict(META, plugin={"type": "openapi/v%s" % self.version, "name": "Slurm OpenAPI"})
        if headers.get("X-SLURM-USER-TOKEN") != self.token:
            # 22.05: slurmrestd passes the token through; slurmctld refuses it and the call fails.
            refused = {"description": "slurmctld config is unable to load", "error_number": 1007,
                       "error": "Protocol authentication error", "source": "slurm_load_ctl_conf"}
            return 500, {"meta": meta, "errors": [refused]}
        user = headers.get("X-SLURM-USER-NAME")
        prefix = "/slurm/v%s" % self.version
        db = "/slurmdb/v%s" % self.version
        path = url.path
        if path == prefix + "/ping":
            return 200, {"meta": meta, "errors": [], "pings": [{"hostname": "head", "ping": "UP", "status": 0,
                                                                "mode": "primary"}]}
        if path == prefix + "/job/submit" and method == "POST":
            if self.submit_errors:
                return 500, {"meta": meta, "errors": self.submit_errors, "job_id": None}
            job = body["job"]
            env = job.get("environment")
            if self.version in ("0.0.36", "0.0.37", "0.0.38") and not isinstance(env, dict):
                return 500, {"meta": meta, "errors": [{"error": "environment must be a dictionary", "error_number": 9000}]}
            if self.version not in ("0.0.36", "0.0.37", "0.0.38") and not isinstance(env, list):
                return 400, {"meta": meta, "errors": [{"error": "environment must be a list", "error_number": 9000}]}
            job_id = self.next_id
            self.next_id += 1
            self.jobs[job_id] = self.record(job_id, job, body["script"], user)
            return 200, {"meta": meta, "errors": [], "job_id": job_id, "step_id": "batch",
                         "job_submit_user_msg": ""}
        if path.startswith(prefix + "/job/"):
            job_id = int(path.rsplit("/", 1)[1])
            if job_id not in self.jobs:
                missing = {"description": "Unable to query JobId=%s" % job_id, "error_number": 2017,
                           "error": "Invalid job id specified", "source": "slurm_load_job"}
                return 500, {"meta": meta, "errors": [missing], "jobs": []}
            if method == "DELETE":
                self.finish(job_id, "CANCELLED", 0)
                return 200, {"meta": meta, "errors": []}
            return 200, {"meta": meta, "errors": [], "jobs": [self.shape(self.jobs[job_id])]}
        if path == prefix + "/jobs":
            return 200, {"meta": meta, "errors": [], "jobs": [self.shape(j) for j in self.jobs.values()]}
        if path.startswith(db + "/job/"):
            job_id = int(path.rsplit("/", 1)[1])
            rows = [self.db_shape(j) for j in list(self.jobs.values()) + list(self.history.values())
                    if j["job_id"] == job_id]
            return 200, {"meta": meta, "errors": [] if rows else [NOTHING_FOUND], "jobs": rows}
        if path == db + "/jobs":
            # 22.05 knows start_time (YYYY-MM-DDTHH:MM:SS) but no user filter, and says so with a 500.
            query = parse_qs(url.query)
            if set(query) - {"start_time", "end_time", "job_name", "account", "partition", "state"}:
                unknown = {"description": "Unknown Query field", "error_number": 9000,
                           "error": "Query empty or not RFC7320 compliant"}
                return 500, {"meta": meta, "jobs": [], "errors": [unknown]}
            rows = [self.db_shape(j) for j in list(self.jobs.values()) + list(self.history.values())]
            return 200, {"meta": meta, "errors": [] if rows else [NOTHING_FOUND], "jobs": rows}
        return 404, {"meta": meta, "errors": [{"error": "Unable to find path", "error_number": 404}]}

    def record(self, job_id, job, script, user):
        now = int(time.time())
        return {"job_id": job_id, "name": job.get("name") or "sbatch", "user_name": user, "user_id": 1001,
                "job_state": "PENDING", "state_reason": "None", "exit_code": 0, "nodes": "",
                "partition": job.get("partition") or "compute", "comment": job.get("comment") or "",
                "current_working_directory": job.get("current_working_directory"),
                "standard_output": job.get("standard_output") or "", "standard_error": job.get("standard_error") or "",
                "submit_time": now, "start_time": now, "end_time": now + 3600, "array_job_id": 0,
                "array_task_id": None, "node_count": 1, "script": script, "submitted": job}

    def finish(self, job_id, state, status, elapsed=3):
        job = self.jobs[job_id]
        job.update(job_state=state, exit_code=status, nodes="compute-dy-compute-nodes-1",
                   end_time=job["start_time"] + elapsed)

    def forget(self, job_id):
        """The controller forgets a finished job (MinJobAge): only accounting knows it."""
        self.history[job_id] = self.jobs.pop(job_id)

    def shape(self, job):
        out = {k: v for k, v in job.items() if k not in ("script", "submitted")}
        if self.version not in ("0.0.36", "0.0.37", "0.0.38"):
            out["job_state"] = [job["job_state"]]
            for key in ("start_time", "end_time", "submit_time", "array_task_id", "array_job_id"):
                out[key] = {"set": job[key] is not None, "infinite": False, "number": job[key] or 0}
            status = job["exit_code"]
            out["exit_code"] = {"status": ["EXITED"], "return_code": {"set": True, "number": (status >> 8) & 0xFF},
                                "signal": {"id": {"set": True, "number": status & 0x7F}}}
        return out

    def db_shape(self, job):
        status = job["exit_code"]
        return {"job_id": job["job_id"], "name": job["name"], "user": job["user_name"],
                "state": {"current": job["job_state"], "reason": job["state_reason"]},
                "exit_code": {"status": "SUCCESS" if status == 0 else "FAILED", "return_code": (status >> 8) & 0xFF,
                              "signal": {"signal_id": status & 0x7F}},
                "nodes": job["nodes"] or "None assigned", "allocation_nodes": 1, "partition": job["partition"],
                "comment": {"job": job["comment"]}, "working_directory": job["current_working_directory"],
                "time": {"elapsed": job["end_time"] - job["start_time"]}, "array": {"job_id": 0, "task_id": None}}

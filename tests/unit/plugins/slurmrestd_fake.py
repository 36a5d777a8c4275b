"""A stand-in slurmrestd on 127.0.0.1 (an http.server in a thread) that answers as a real one did.

- v0.0.36 to v0.0.38: Slurm 22.05.8's v0.0.38 plugin (the /openapi/v3 paths captured from it, 401
  "Authentication failure" without token headers, 500 with errors for a token slurmctld refuses).
  ``version="0.0.39"`` serves a 23.02-style server (environment a list, numbers as objects).
- v0.0.40 to v0.0.42 (Slurm 24.11.5) and v0.0.43 to v0.0.45 (Slurm 26.05.5): the release's real
  /openapi/v3 document, and answers built from what its slurmrestd answered to the same calls
  (fixtures/slurmrestd/responses_<release>.json): job and slurmdbd records are the captured
  templates with this fake's jobs written in, errors and statuses are the captured ones (a forged
  token: ping 200 with the controller DOWN, other slurmctld calls 511, slurmdbd calls 502).
  Submissions are checked against the release's request schema the way slurmrestd's parser does:
  a field it does not know or a value of the wrong type is a warning in the answer (and in
  ``warnings`` here), a flag it does not know an error.

``offers`` lists the versions the document offers (default: ``version`` alone)."""

import copy
import json
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "slurmrestd")
FIXTURE = os.path.join(FIXTURES, "openapi_v3_22.05.json")
META = {"plugin": {"type": "openapi/v0.0.38", "name": "Slurm OpenAPI v0.0.38"},
        "Slurm": {"version": {"major": 22, "micro": 8, "minor": 5}, "release": "22.05.8"}}
# slurmdbd's answer (HTTP 200) to a job query that matches nothing.
NOTHING_FOUND = {"description": "Nothing found", "error_number": 9003, "error": "Nothing found with query",
                 "source": "slurmdb_jobs_get"}
GOOD_TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjQxMDI0NDQ4MDAsImlhdCI6MTcwMDAwMDAwMCwic3VuIjoiZWMyLXVzZXIifQ.c2lnbmF0dXJl"  # noqa: E501  (sun=ec2-user, exp=2100)
LEGACY = ("0.0.36", "0.0.37", "0.0.38", "0.0.39")
# The release whose captured answers a version's server gives.
RELEASE = {"0.0.40": "24.11", "0.0.41": "24.11", "0.0.42": "24.11", "0.0.43": "26.05", "0.0.44": "26.05",
           "0.0.45": "26.05"}
NO_VAL = 4294967294
SIGNALS = {1: "HUP", 2: "INT", 6: "ABRT", 9: "KILL", 15: "TERM"}
# Values slurmrestd takes in place of the documented type without a warning (captured: a begin
# time as text goes through parse_time()).
LENIENT = {("begin_time", "string")}
_LOADED = {}


def release_files(release):
    """(OpenAPI document, captured answers) of a Slurm release, loaded once."""
    if release not in _LOADED:
        with open(os.path.join(FIXTURES, "openapi_v3_%s.json" % release)) as handle:
            spec = json.load(handle)
        with open(os.path.join(FIXTURES, "responses_%s.json" % release)) as handle:
            answers = json.load(handle)
        _LOADED[release] = (spec, answers)
    return _LOADED[release]


def no_val(value):
    return {"infinite": False, "number": 0 if value is None else value, "set": value is not None}


def exit_object(status):
    """A wait(2) status as v0.0.40+ report it (captured: exit 0, exit 3, killed by SIGTERM)."""
    if status is None:
        return {"return_code": no_val(None), "signal": {"id": no_val(None), "name": ""}, "status": ["PENDING"]}
    if status & 0x7F:
        sig = status & 0x7F
        return {"return_code": no_val(None), "signal": {"id": no_val(sig), "name": SIGNALS.get(sig, "")},
                "status": ["SIGNALED"]}
    code = (status >> 8) & 0xFF
    return {"return_code": no_val(code), "signal": {"id": no_val(None), "name": ""},
            "status": ["SUCCESS" if code == 0 else "ERROR"]}


# bool before int: a bool is an int to isinstance.
_OPENAPI_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (list, "array"),
                  (dict, "object"))


def _openapi_type(value):
    return next((name for kind, name in _OPENAPI_TYPES if isinstance(value, kind)), "null")


class FakeSlurmrestd:
    def __init__(self, version="0.0.38", token=GOOD_TOKEN, offers=None):
        self.version = version
        self.offers = tuple(offers or (version,))
        self.token = token
        self.jobs = {}
        self.history = {}
        self.requests = []
        # What the server warned about in its answers (a submission off the document's schema).
        self.warnings = []
        self.next_id = 100
        self.submit_errors = None
        self.spec = self._document()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status, payload):
                text = isinstance(payload, (bytes, str))
                body = payload.encode() if isinstance(payload, str) else payload if text else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain" if text else "application/json")
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
        # A short poll: shutdown() waits for it, once per test.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def _document(self):
        """The /openapi/v3 document: the captured one of the release, with the offered versions' paths."""
        if self.version in LEGACY:
            with open(FIXTURE) as handle:
                spec = json.load(handle)
            if self.version != "0.0.38":
                spec["paths"] = {p.replace("v0.0.38", "v" + self.version): v for p, v in spec["paths"].items()
                                 if "v0.0.38" in p}
            return spec
        known = [v for v in self.offers if v in RELEASE]
        spec = copy.deepcopy(release_files(RELEASE.get(self.version, "26.05"))[0])
        paths = {}
        for path, ops in spec["paths"].items():
            match = re.match(r"^/(slurm|slurmdb)/v([0-9.]+)/", path)
            if not match:
                paths[path] = ops
            elif match.group(2) in self.offers:
                paths[path] = ops
            elif not known and match.group(2) == "0.0.45":
                for version in self.offers:  # a release newer than any captured: its paths, renamed
                    paths[path.replace("v0.0.45", "v" + version)] = ops
        spec["paths"] = paths
        return spec

    # what slurmrestd answers ------------------------------------------------------------------

    def handle(self, method, url, headers, body):
        if not headers.get("X-SLURM-USER-NAME") or not headers.get("X-SLURM-USER-TOKEN"):
            return 401, "Authentication failure"
        if url.path == "/openapi/v3":
            return 200, self.spec
        match = re.match(r"^/(slurm|slurmdb)/v([0-9.]+)(/.*)$", url.path)
        if match and match.group(2) in self.offers and match.group(2) in RELEASE:
            return self.handle_current(method, match.group(1), match.group(2), match.group(3).rstrip("/"), url,
                                       headers, body)
        return self.handle_legacy(method, url, headers, body)

    def handle_legacy(self, method, url, headers, body):
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
            job_id = self.new_job(job, body["script"], user)
            return 200, {"meta": meta, "errors": [], "job_id": job_id, "step_id": "batch",
                         "job_submit_user_msg": ""}
        if path.startswith(prefix + "/job/"):
            job_id = _int(path.rsplit("/", 1)[1])
            # slurm_load_job() of an array's job id gives every task, as scontrol shows.
            found = [j for j in self.jobs.values() if job_id in (j["job_id"], j["array_job_id"])]
            if not found:
                missing = {"description": "Unable to query JobId=%s" % job_id, "error_number": 2017,
                           "error": "Invalid job id specified", "source": "slurm_load_job"}
                return 500, {"meta": meta, "errors": [missing], "jobs": []}
            if method == "DELETE":
                self.cancel(job_id)
                return 200, {"meta": meta, "errors": []}
            return 200, {"meta": meta, "errors": [], "jobs": [self.shape(j) for j in found]}
        if path == prefix + "/jobs":
            return 200, {"meta": meta, "errors": [], "jobs": [self.shape(j) for j in self.jobs.values()]}
        if path.startswith(db + "/job/"):
            job_id = _int(path.rsplit("/", 1)[1])
            rows = [self.db_shape(j) for j in self.all_jobs() if job_id in (j["job_id"], j["array_job_id"])]
            return 200, {"meta": meta, "errors": [] if rows else [NOTHING_FOUND], "jobs": rows}
        if path == db + "/jobs":
            # 22.05 knows start_time (YYYY-MM-DDTHH:MM:SS) but no user filter, and says so with a 500.
            query = parse_qs(url.query)
            if set(query) - {"start_time", "end_time", "job_name", "account", "partition", "state"}:
                unknown = {"description": "Unknown Query field", "error_number": 9000,
                           "error": "Query empty or not RFC7320 compliant"}
                return 500, {"meta": meta, "jobs": [], "errors": [unknown]}
            rows = [self.db_shape(j) for j in self.all_jobs()]
            return 200, {"meta": meta, "errors": [] if rows else [NOTHING_FOUND], "jobs": rows}
        return 404, {"meta": meta, "errors": [{"error": "Unable to find path", "error_number": 404}]}

    def handle_current(self, method, plugin, version, path, url, headers, body):
        """A v0.0.40+ call, answered as the release's slurmrestd answered it."""
        answers = release_files(RELEASE[version])[1][version]
        meta = answers["ping"]["body"]["meta"]

        def captured(name, **fields):
            entry = answers[name]
            payload = copy.deepcopy(entry["body"])
            if isinstance(payload, dict):
                payload["meta"] = meta
                payload.update(fields)
            return entry["status"], payload

        if headers.get("X-SLURM-USER-TOKEN") != self.token:
            if plugin == "slurmdb":
                return captured("db_jobs_forged")
            if path == "/ping":
                return captured("ping_forged")
            return captured("submit_forged" if path == "/job/submit" else "jobs_forged")
        user = headers.get("X-SLURM-USER-NAME")
        if plugin == "slurm" and path == "/ping" and method == "GET":
            return captured("ping")
        if plugin == "slurm" and path == "/job/submit" and method == "POST":
            warnings, errors = self.check_submission(version, body)
            self.warnings += warnings
            if errors:
                status, payload = captured("submit_mail_type_string", errors=errors, warnings=warnings)
                return status, payload
            if self.submit_errors:
                return captured("submit_bad_partition", errors=self.submit_errors, warnings=warnings)
            job = body.get("job") or (body.get("jobs") or [{}])[0]
            job_id = self.new_job(job, job.get("script") or body.get("script"), user)
            status, payload = captured("submit", job_id=job_id, warnings=warnings)
            if "result" in payload:
                payload["result"]["job_id"] = job_id
            return status, payload
        if plugin == "slurm" and path.startswith("/job/"):
            job_id = _int(path.rsplit("/", 1)[1])
            found = [j for j in self.jobs.values() if job_id in (j["job_id"], j["array_job_id"])]
            if method == "DELETE":
                if not found:
                    return captured("cancel_missing")
                self.cancel(job_id)
                return captured("cancel")
            if not found:
                status, payload = captured("job_missing")
                for error in payload["errors"]:
                    error["description"] = "Unable to query JobId=%s" % job_id
                return status, payload
            return captured("job_running", jobs=[self.job_record(version, j) for j in found])
        if plugin == "slurm" and path == "/jobs" and method == "GET":
            return captured("job_running", jobs=[self.job_record(version, j) for j in self.jobs.values()])
        if plugin == "slurmdb" and path.startswith("/job/"):
            job_id = _int(path.rsplit("/", 1)[1])
            rows = [self.db_record(version, j) for j in self.all_jobs() if job_id in (j["job_id"], j["array_job_id"])]
            if not rows:
                return captured("db_job_missing")
            return captured("db_job_failed", jobs=rows)
        if plugin == "slurmdb" and path == "/jobs":
            return self.db_query(version, url, captured)
        return 404, {"meta": meta, "errors": [{"description": "Unable to find path", "error_number": 404}]}

    def db_query(self, version, url, captured):
        """slurmdbd's job query: a raw ':' is refused before parsing, v0.0.40 and v0.0.41 parse
        start_time as text (a UNIX time is refused), unknown fields are a warning."""
        if ":" in url.query:
            return captured("db_jobs")
        query = parse_qs(url.query)
        start = (query.get("start_time") or [""])[0]
        if start.isdigit() and version in ("0.0.40", "0.0.41"):
            status, payload = captured("db_jobs_epoch")
            for error in payload["errors"]:
                error["description"] = error["description"].replace(re.findall(r"\d{6,}", error["description"])[0],
                                                                    start)
            return status, payload
        params = {p["name"] for p in self.spec["paths"]["/slurmdb/v%s/jobs/" % version]["get"]["parameters"]}
        warnings = ['Ignoring unknown field "%s" of type string in DATA_PARSER_JOB_CONDITION' % k
                    for k in sorted(query) if k not in params]
        self.warnings += warnings
        users = set(",".join(query.get("users", [])).split(",")) - {""}
        rows = [self.db_record(version, j) for j in self.all_jobs() if not users or j["user_name"] in users]
        if not rows:
            return captured("db_jobs_users_other")
        return 200, dict(captured("db_job_failed")[1], jobs=rows,
                         warnings=[{"description": w, "source": "#/%s/" % w.split('"')[1]} for w in warnings])

    # the request schema -----------------------------------------------------------------------

    def check_submission(self, version, body):
        """(warnings, errors) slurmrestd's parser gives for a submission off the document's schema."""
        op = self.spec["paths"]["/slurm/v%s/job/submit" % version]["post"]
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        warnings, errors = [], []
        self._check(body, schema, "#", warnings, errors)
        return warnings, errors

    def _resolve(self, schema):
        while "$ref" in schema:
            schema = self.spec["components"]["schemas"][schema["$ref"].split("/")[-1]]
        return schema

    def _check(self, value, schema, where, warnings, errors):
        schema = self._resolve(schema)
        want, got = schema.get("type"), _openapi_type(value)
        name = where.rsplit("/", 1)[-1]
        if (name, got) in LENIENT:
            return
        if want and want != got and not (want == "number" and got == "integer"):
            warnings.append({"description": "Expected OpenAPI type=%s but got OpenAPI type=%s" % (want, got),
                             "source": where + "/"})
            return
        if want == "object" and "properties" in schema:
            for key, item in value.items():
                if key not in schema["properties"]:
                    warnings.append({"description": 'Ignoring unknown field "%s" of type %s in '
                                                    'DATA_PARSER_JOB_DESC_MSG' % (key, _openapi_type(item)),
                                     "source": "%s/%s/" % (where, key)})
                else:
                    self._check(item, schema["properties"][key], "%s/%s" % (where, key), warnings, errors)
        elif want == "array":
            items = self._resolve(schema.get("items") or {})
            for index, item in enumerate(value):
                if "enum" in items and item not in items["enum"]:
                    errors.append({"description": 'Unknown flag "%s"' % item, "error_number": 9207,
                                   "error": "Data parser unable to parse invalid flag",
                                   "source": "%s[%d]/" % (where, index)})
                else:
                    self._check(item, items, "%s[%d]" % (where, index), warnings, errors)

    # jobs -------------------------------------------------------------------------------------

    def new_job(self, job, script, user):
        job_id = self.next_id
        self.next_id += 1
        self.jobs[job_id] = self.record(job_id, job, script, user)
        return job_id

    def record(self, job_id, job, script, user):
        now = int(time.time())
        array = job.get("array")
        return {"job_id": job_id, "name": job.get("name") or "sbatch", "user_name": user, "user_id": 1001,
                "job_state": "PENDING", "state_reason": "None", "exit_code": 0, "nodes": "",
                "partition": job.get("partition") or "compute", "comment": job.get("comment") or "",
                "current_working_directory": job.get("current_working_directory"),
                "standard_output": job.get("standard_output") or "", "standard_error": job.get("standard_error") or "",
                "submit_time": now, "start_time": now, "end_time": now + 3600,
                "array_job_id": job_id if array else 0, "array_task_id": None, "array_task_string": array or "",
                "node_count": 1, "completing": False, "script": script, "submitted": job}

    def all_jobs(self):
        return list(self.jobs.values()) + list(self.history.values())

    def start(self, job_id, started=5):
        """The job starts on a node (``started`` seconds ago)."""
        for job in self.split(job_id):
            job.update(job_state="RUNNING", nodes="compute-dy-compute-nodes-1", start_time=int(time.time()) - started,
                       end_time=int(time.time()) + 3600)

    def finish(self, job_id, state, status, elapsed=3):
        """The job ends (a pending array runs as one task record per index first)."""
        for job in self.split(job_id):
            job.update(job_state=state, exit_code=status, nodes="compute-dy-compute-nodes-1",
                       end_time=job["start_time"] + elapsed)

    def cancel(self, job_id):
        """scancel: SIGTERM, and (v0.0.40+) COMPLETING until the next look at the job."""
        targets = [j for j in self.jobs.values() if job_id in (j["job_id"], j["array_job_id"])]
        for job in targets:
            job.update(job_state="CANCELLED", exit_code=15, completing=self.version not in LEGACY,
                       nodes=job["nodes"] or "compute-dy-compute-nodes-1", end_time=job["start_time"] + 1)

    def split(self, job_id):
        """The task records of job_id; a pending array is split as slurmctld does when it starts
        (the last index keeps the array's job id, the others get new ones)."""
        job = self.jobs.get(job_id)
        if job is None or not job["array_task_string"]:
            return [j for j in self.jobs.values() if job_id in (j["job_id"], j["array_job_id"])]
        indexes = _indexes(job["array_task_string"])
        tasks = []
        for index in indexes:
            task_id = job_id if index == indexes[-1] else self.next_id
            if task_id != job_id:
                self.next_id += 1
            tasks.append(dict(job, job_id=task_id, array_task_id=index, array_task_string=""))
        del self.jobs[job_id]
        for task in tasks:
            self.jobs[task["job_id"]] = task
        return tasks

    def forget(self, job_id):
        """The controller forgets a finished job (MinJobAge): only accounting knows it."""
        for job in [j for j in self.jobs.values() if job_id in (j["job_id"], j["array_job_id"])]:
            self.history[job["job_id"]] = self.jobs.pop(job["job_id"])

    # records ----------------------------------------------------------------------------------

    def shape(self, job):
        """A v0.0.36 to v0.0.39 job record (22.05's v0.0.38: array_task_id null unless a task,
        exit_code the raw wait status, standard_output as given)."""
        out = {k: v for k, v in job.items() if k not in ("script", "submitted", "completing")}
        if self.version not in ("0.0.36", "0.0.37", "0.0.38"):
            out["job_state"] = [job["job_state"]]
            for key in ("start_time", "end_time", "submit_time", "array_task_id", "array_job_id"):
                out[key] = {"set": job[key] is not None, "infinite": False, "number": job[key] or 0}
            status = job["exit_code"]
            out["exit_code"] = {"status": ["EXITED"], "return_code": {"set": True, "number": (status >> 8) & 0xFF},
                                "signal": {"id": {"set": True, "number": status & 0x7F}}}
        return out

    def db_shape(self, job):
        """A dbv0.0.36 to dbv0.0.39 job record (22.05's dbv0.0.38: array/task_id null unless a task)."""
        status = job["exit_code"]
        return {"job_id": job["job_id"], "name": job["name"], "user": job["user_name"],
                "state": {"current": job["job_state"], "reason": job["state_reason"]},
                "exit_code": {"status": "SUCCESS" if status == 0 else "FAILED", "return_code": (status >> 8) & 0xFF,
                              "signal": {"signal_id": status & 0x7F}},
                "nodes": job["nodes"] or "None assigned", "allocation_nodes": 1, "partition": job["partition"],
                "comment": {"job": job["comment"]}, "working_directory": job["current_working_directory"],
                "time": {"elapsed": job["end_time"] - job["start_time"]},
                "array": {"job_id": job["array_job_id"], "task_id": job["array_task_id"]}}

    def job_record(self, version, job):
        """The captured v0.0.40+ job record of the release with this job written in."""
        rec = copy.deepcopy(release_files(RELEASE[version])[1][version]["job_running"]["body"]["jobs"][0])
        state = [job["job_state"]] + (["COMPLETING"] if job["completing"] else [])
        job["completing"] = False  # the epilog is done by the next look
        submitted = job["submitted"]
        rec.update(
            job_id=job["job_id"], name=job["name"], user_name=job["user_name"], user_id=job["user_id"],
            job_state=state, state_reason=job["state_reason"],
            exit_code=exit_object(job["exit_code"]) if job["job_state"] != "PENDING" else exit_object(0),
            nodes=job["nodes"], partition=job["partition"], comment=job["comment"],
            current_working_directory=job["current_working_directory"],
            standard_output=_stdio(job, job["standard_output"]),
            standard_error=_stdio(job, job["standard_error"] or job["standard_output"]),
            submit_time=no_val(job["submit_time"]), start_time=no_val(job["start_time"]),
            end_time=no_val(job["end_time"]), array_job_id=no_val(job["array_job_id"]),
            array_task_id=no_val(job["array_task_id"]), array_task_string=job["array_task_string"],
            node_count=no_val(job["node_count"]), time_limit=submitted.get("time_limit") or no_val(None),
            memory_per_node=submitted.get("memory_per_node") or no_val(None))
        if "stdout_expanded" in rec:
            # 26.05's v0.0.43+: the stored pattern (sbatch's default when none was given), its
            # expansion apart, and no stderr path when the error goes with the output.
            default = "slurm-%A_%a.out" if job["array_job_id"] else "slurm-%j.out"
            rec.update(standard_output=job["standard_output"] or default, standard_error=job["standard_error"],
                       stdout_expanded=_stdio(job, job["standard_output"]),
                       stderr_expanded=_stdio(job, job["standard_error"]) if job["standard_error"] else "")
        return rec

    def db_record(self, version, job):
        """The captured v0.0.40+ slurmdbd job record of the release with this job written in."""
        rec = copy.deepcopy(release_files(RELEASE[version])[1][version]["db_job_failed"]["body"]["jobs"][0])
        ran = job["job_state"] != "PENDING"
        rec.update(
            job_id=job["job_id"], name=job["name"].replace('"', "`"), user=job["user_name"],
            state={"current": [job["job_state"]], "reason": job["state_reason"]},
            exit_code=exit_object(job["exit_code"] if ran else 0),
            nodes=job["nodes"] or "None assigned", allocation_nodes=1 if job["nodes"] else 0,
            partition=job["partition"], working_directory=job["current_working_directory"],
            comment=dict(rec["comment"], job=job["comment"]), steps=[])
        rec["time"] = dict(rec["time"], elapsed=job["end_time"] - job["start_time"] if ran else 0,
                           start=job["start_time"] if ran else 0, end=job["end_time"] if ran else 0,
                           submission=job["submit_time"], eligible=job["submit_time"])
        rec["array"] = dict(rec["array"], job_id=job["array_job_id"], task_id=no_val(job["array_task_id"]),
                            task="")
        return rec


def _int(text):
    try:
        return int(text)
    except ValueError:
        return None


def _indexes(spec):
    out = []
    for part in spec.split("%")[0].split(","):
        first, _sep, last = part.partition("-")
        out += list(range(int(first), int(last or first) + 1))
    return out


def _stdio(job, pattern):
    """An output path as slurm_get_job_stdout() expands it (src/api/job_info.c)."""
    work_dir = job["current_working_directory"]
    task = job["array_task_id"]
    if not pattern:
        if job["array_job_id"]:
            return "%s/slurm-%d_%d.out" % (work_dir, job["array_job_id"], NO_VAL if task is None else task)
        return "%s/slurm-%d.out" % (work_dir, job["job_id"])
    repl = {"A": str(job["array_job_id"] if task is not None else job["job_id"]),
            "a": str(NO_VAL if task is None else task), "j": str(job["job_id"]), "u": job["user_name"],
            "x": job["name"], "%": "%"}
    path = re.sub(r"%([Aajux%])", lambda m: repl[m.group(1)], pattern)
    return path if path.startswith("/") else "%s/%s" % (work_dir, path)

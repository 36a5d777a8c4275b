"""A local account against the local AWS API emulator (127.0.0.1:5000): it serves only requests
signed with the deployment's own key pair, which no other account can read.

Before, moto accepted anyone: every local account could list, write or reset (/moto-api/reset) the
deployment's buckets and network, and an object it wrote under the bucket's ImportPath would land
on /fsx as root. Each attack runs as the unprivileged account through the emulator's public
interface (its port) with moto's usual key pair, a random one, the right key id with a wrong
secret, and no signature at all; each must get HTTP 403 and leave the emulator as it was, checked
with the real key pair."""

import json
import os
import stat
import textwrap
import uuid

import pytest

from helpers import EMULATOR, EMULATOR_CREDENTIALS, emulator_clients, emulator_credentials, run

pytestmark = pytest.mark.integration

OS_USER = "ec2-user"

# Runs as the attacker with the system Python (python3-boto3): every attack, and the HTTP status
# (or error) each got. argv: endpoint, bucket, key, then the key pair ("" "" for unsigned).
ATTACK = textwrap.dedent('''
    import json, sys, urllib.error, urllib.request
    endpoint, bucket, key, access_key, secret = sys.argv[1:6]

    def send(method, path, body=b"", headers=()):
        request = urllib.request.Request(endpoint + path, data=body or None, method=method, headers=dict(headers))
        if access_key:
            from botocore.auth import SigV4Auth
            from botocore.awsrequest import AWSRequest
            from botocore.credentials import Credentials
            signed = AWSRequest(method=method, url=endpoint + path, data=body, headers=dict(headers))
            service = "s3" if path.startswith("/" + bucket) or path == "/" else "moto"
            SigV4Auth(Credentials(access_key, secret), service, "us-east-1").add_auth(signed)
            for name, value in signed.headers.items():
                request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    results = {"list": send("GET", "/"), "put": send("PUT", "/%s/%s" % (bucket, key), b"planted by the attacker"),
               "reset": send("POST", "/moto-api/reset"), "data": send("GET", "/moto-api/data.json"),
               "prices": send("POST", "/", b'{"ServiceCode": "AmazonEC2"}',
                              {"X-Amz-Target": "AWSPriceListService.GetProducts",
                               "Content-Type": "application/x-amz-json-1.1"})}
    if access_key:
        import boto3, botocore.exceptions
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id=access_key, aws_secret_access_key=secret)
        for name, call in (("sdk_list", lambda: s3.list_buckets()),
                           ("sdk_put", lambda: s3.put_object(Bucket=bucket, Key=key, Body=b"planted"))):
            try:
                call()
                results[name] = 200
            except botocore.exceptions.ClientError as exc:
                results[name] = exc.response["ResponseMetadata"]["HTTPStatusCode"]
    for path in sys.argv[6:]:
        try:
            open(path).read()
            results["read " + path] = "read"
        except OSError as exc:
            results["read " + path] = type(exc).__name__
    print(json.dumps(results))
''')


# Fetches a URL as the attacker and prints the HTTP status.
PRESIGNED = textwrap.dedent('''
    import sys, urllib.error, urllib.request
    try:
        print(urllib.request.urlopen(sys.argv[1], timeout=30).status)
    except urllib.error.HTTPError as exc:
        print(exc.code)
''')


def _snapshot():
    """What the emulator holds, read with the real key pair: buckets, their objects, the network."""
    ec2, s3 = emulator_clients("ec2", "s3")
    buckets = sorted(b["Name"] for b in s3.list_buckets()["Buckets"])
    objects = {name: sorted((o["Key"], o["ETag"]) for o in s3.list_objects_v2(Bucket=name).get("Contents", []))
               for name in buckets}
    vpcs = sorted(v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"])
    subnets = sorted(s["SubnetId"] for s in ec2.describe_subnets()["Subnets"])
    return {"buckets": buckets, "objects": objects, "vpcs": vpcs, "subnets": subnets}


@pytest.fixture(scope="module")
def deployment(site_vvv):
    """site.yml's run at -vvv (it restarts an emulator started without the signature check), its
    output, and the deployment's bucket."""
    (s3,) = emulator_clients("s3")
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("hpc-data-")]
    assert len(buckets) == 1, buckets
    return {"output": site_vvv["output"], "bucket": buckets[0]}


@pytest.fixture(scope="module")
def attack_script():
    """The attack program, passed to the attacker's Python with -c (nothing of root's to read)."""
    return ATTACK


def _attack(attacker, script, bucket, key, access_key, secret, *read):
    proc = run(["/usr/bin/python3", "-c", script, EMULATOR, bucket, key, access_key, secret, *read], user=attacker)
    return json.loads(proc.stdout)


@pytest.mark.parametrize("label, access_key, secret", [
    ("moto's usual key pair", "testing", "testing"),
    ("a random key pair", "AKIA" + uuid.uuid4().hex[:16].upper(), uuid.uuid4().hex + uuid.uuid4().hex[:8]),
    ("no signature", "", ""),
])
def test_attacker_cannot_read_write_or_reset_the_emulator(deployment, attacker, attack_script, label, access_key, secret):
    before = _snapshot()
    key = "input/it-12-%s.dat" % uuid.uuid4().hex[:8]
    results = _attack(attacker, attack_script, deployment["bucket"], key, access_key, secret)
    refused = {name: status for name, status in results.items() if status == 403}
    assert refused == results, "%s: %s" % (label, results)
    assert _snapshot() == before
    (s3,) = emulator_clients("s3")
    assert s3.list_objects_v2(Bucket=deployment["bucket"], Prefix=key).get("KeyCount", 0) == 0


def test_attacker_with_the_key_id_but_not_the_secret_is_refused(deployment, attacker, attack_script):
    """The access key id alone (it is not a secret on AWS either) signs nothing the emulator accepts."""
    before = _snapshot()
    key = "input/it-12-%s.dat" % uuid.uuid4().hex[:8]
    results = _attack(attacker, attack_script, deployment["bucket"], key, emulator_credentials()[0], "x" * 40)
    assert set(results.values()) == {403}, results
    assert _snapshot() == before


def test_attacker_cannot_read_the_key_pair(deployment, attacker, attack_script):
    user_file = os.path.expanduser("~%s/.aws/credentials" % OS_USER)
    results = _attack(attacker, attack_script, deployment["bucket"], "input/x.dat", "", "",
                      EMULATOR_CREDENTIALS, user_file)
    assert results["read " + EMULATOR_CREDENTIALS] == "PermissionError"
    assert results["read " + user_file] == "PermissionError"


def test_the_key_pair_is_root_s_0600_and_the_os_user_s_copy_is_its_own(deployment):
    info = os.stat(EMULATOR_CREDENTIALS, follow_symlinks=False)
    assert stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600 and info.st_uid == 0
    state = os.stat(os.path.dirname(EMULATOR_CREDENTIALS))
    assert stat.S_IMODE(state.st_mode) == 0o700 and state.st_uid == 0
    import pwd

    user = pwd.getpwnam(OS_USER)
    folder = os.path.join(user.pw_dir, ".aws")
    copy = os.path.join(folder, "credentials")
    for path, mode in ((folder, 0o700), (copy, 0o600)):
        info = os.stat(path, follow_symlinks=False)
        assert (stat.S_IMODE(info.st_mode), info.st_uid) == (mode, user.pw_uid), path
    key, secret = emulator_credentials()
    with open(copy) as handle:
        text = handle.read()
    assert key in text and secret in text
    assert key.startswith("AKIA") and len(key) == 20 and len(secret) == 40


def test_the_os_user_reaches_the_emulator_with_its_copy(deployment):
    """As a head node's default user reaches AWS with the instance role: no credentials to pass."""
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    proc = run(["env", "-i", *("%s=%s" % item for item in env.items()), "HOME=" + os.path.expanduser("~" + OS_USER),
                "aws", "--region", "us-east-1", "--endpoint-url", EMULATOR, "s3", "ls", "s3://%s/" % deployment["bucket"]],
               user=OS_USER, check=False)
    assert proc.returncode == 0, proc.stderr


def test_site_output_never_shows_the_secret(deployment, attacker):
    """-vvv prints every module's arguments and results: the secret is hidden (no_log). The access
    key id is printed where amazon.aws prints it: its access_key option (not secret, as on AWS) and
    the presigned URLs s3_object returns, which the emulator refuses (query-string signatures)."""
    import re

    key, secret = emulator_credentials()
    output = deployment["output"]
    assert secret not in output
    urls = sorted(set(re.findall(r"https?://\S+AWSAccessKeyId=\S+", output)))
    lines = [line for line in output.splitlines() if key in line]
    assert all("access_key: " + key in line or any(url in line for url in urls) for line in lines), lines[:5]
    for url in urls:
        proc = run(["/usr/bin/python3", "-c", PRESIGNED, url], user=attacker)
        assert proc.stdout.strip() == "403", (url, proc.stdout)


def test_tampered_stale_and_replayed_requests_are_refused(deployment):
    """A request signed with the real key pair but changed afterwards, or too old, is refused:
    the signature covers the method, path, query, signed headers and body, and the date."""
    import datetime
    import urllib.error
    import urllib.request

    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    key, secret = emulator_credentials()
    bucket = deployment["bucket"]
    target = "/%s/input/it-12-%s.dat" % (bucket, uuid.uuid4().hex[:8])

    def signed(method, path, body, when=None):
        request = AWSRequest(method=method, url=EMULATOR + path, data=body)
        signer = S3SigV4Auth(Credentials(key, secret), "s3", "us-east-1")
        if when is None:
            signer.add_auth(request)
        else:
            request.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
            request.headers["X-Amz-Date"] = request.context["timestamp"]
            request.headers["X-Amz-Content-SHA256"] = signer.payload(request)
            canonical = signer.canonical_request(request)
            signature = signer.signature(signer.string_to_sign(request, canonical), request)
            request.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=%s, SignedHeaders=%s, Signature=%s" % (
                signer.scope(request), signer.signed_headers(signer.headers_to_sign(request)), signature)
        return request

    def send(request, method=None, path=None, body=None):
        raw = urllib.request.Request(EMULATOR + (path or request.url[len(EMULATOR):]),
                                     data=request.body if body is None else body, method=method or request.method)
        for name, value in request.headers.items():
            raw.add_header(name, value)
        try:
            with urllib.request.urlopen(raw, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    before = _snapshot()
    good = signed("PUT", target, b"genuine")
    assert send(good, body=b"forged!") == 403  # same length, other body
    assert send(good, path=target + "-other") == 403  # other key
    assert send(good, method="POST") == 403
    old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)
    assert send(signed("PUT", target, b"genuine", when=old)) == 403
    assert send(signed("POST", "/moto-api/reset", b"")) == 403  # moto's control API is off, signed or not
    assert _snapshot() == before
    # The untouched request is accepted: the refusals above are the changes, not the method.
    assert send(signed("GET", "/%s?list-type=2" % bucket, b"")) == 200

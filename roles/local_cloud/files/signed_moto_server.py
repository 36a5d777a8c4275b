# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local AWS API emulator: moto's server, answering only requests signed with the deployment's key pair.

moto alone accepts every caller, so on a shared machine any local account could read, change or
reset (/moto-api/reset) the deployment's resources. This program serves moto's own WSGI app behind
two rules: every request carries an AWS Signature Version 4 made with the one key pair of the
credentials file (checked with botocore's signer, as AWS checks it), and moto's control API
(/moto-api/) is off for everyone; only its readiness probe answers, with no data. Prices (the AWS
Price List API and EC2's spot price history, which moto lacks) come from price_list_api.py beside it.

The credentials file (AWS shared credentials format, profile "default") must be a regular file of
this process's user, not readable by anyone else; it is re-read when it changes, so the emulator and
its clients agree on the key pair without a restart. --generate-credentials writes a random key pair
there when there is none (the secret never passes through Ansible) and exits.

Usage: python -I signed_moto_server.py --port 5000 --credentials FILE [--host 127.0.0.1] [--process-name moto_server]
       python -I signed_moto_server.py --credentials FILE --generate-credentials
"""

from __future__ import annotations

import argparse
import configparser
import ctypes
import datetime
import hashlib
import hmac
import io
import os
import secrets
import signal
import stat
import string
import sys
import threading

ALGORITHM = "AWS4-HMAC-SHA256"
# How far a request's X-Amz-Date may be from now, as on AWS: a captured request cannot be replayed later.
MAX_SKEW = datetime.timedelta(minutes=15)
PROBE_PATH = "/moto-api/"
CONTROL_PREFIX = "/moto-api"
PR_SET_NAME = 15


class Refused(Exception):
    """A request the emulator does not serve: the AWS error code and its message."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class KeyPair:
    """The access key id and secret of the credentials file, re-read whenever the file changes."""

    def __init__(self, path):
        self.path = path
        self._lock = threading.Lock()
        self._stamp = None
        self._pair = None

    def get(self):
        """(access key id, secret), or None while the file is missing or unsafe (then every request is refused)."""
        try:
            st = os.stat(self.path, follow_symlinks=False)
        except OSError:
            return None
        stamp = (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size, st.st_mode, st.st_uid)
        with self._lock:
            if stamp != self._stamp:
                self._pair = self._read()
                self._stamp = stamp
            return self._pair

    def _read(self):
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            log("cannot open the credentials file %s: %s" % (self.path, exc))
            return None
        with os.fdopen(fd, encoding="utf-8") as handle:
            st = os.fstat(handle.fileno())
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
                log("refusing every request: %s must be a regular file of uid %d with mode 0600 or 0400"
                    % (self.path, os.geteuid()))
                return None
            parser = configparser.ConfigParser(interpolation=None)
            try:
                parser.read_file(handle)
            except (configparser.Error, UnicodeDecodeError) as exc:
                log("refusing every request: %s is not an AWS credentials file (%s)" % (self.path, type(exc).__name__))
                return None
        key = parser.get("default", "aws_access_key_id", fallback="").strip()
        secret = parser.get("default", "aws_secret_access_key", fallback="").strip()
        if not key or not secret:
            log("refusing every request: %s has no aws_access_key_id and aws_secret_access_key under [default]" % self.path)
            return None
        return key, secret


def generate_credentials(path):
    """Write a random key pair to path when there is none (0600, in a 0700 folder, never through a link).

    Returns "generated", "kept" or "made private" (an own file that others could read); raises
    SystemExit naming the file and the fix when what is there is not a usable key pair of this user."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return _keep_credentials(path)
    key = "AKIA" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _i in range(16))
    secret = "".join(secrets.choice(string.ascii_letters + string.digits) for _i in range(40))
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (key, secret))
    return "generated"


def _keep_credentials(path):
    fix = "remove it; the next start generates a new key pair"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise SystemExit("%s: cannot open it without following a link (%s): %s" % (path, exc.strerror, fix)) from None
    with os.fdopen(fd) as handle:
        st = os.fstat(handle.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
            raise SystemExit("%s: not a regular file of uid %d: %s" % (path, os.geteuid(), fix))
        made_private = bool(st.st_mode & 0o077)
        if made_private:
            os.fchmod(handle.fileno(), 0o600)
    if KeyPair(path).get() is None:
        raise SystemExit("%s: no aws_access_key_id and aws_secret_access_key under [default]: %s" % (path, fix))
    return "made private" if made_private else "kept"


def log(message):
    sys.stderr.write("signed_moto_server: %s\n" % message)
    sys.stderr.flush()


def header(environ, name):
    """The value of a request header from the WSGI environ, None when absent."""
    key = name.upper().replace("-", "_")
    if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        key = "HTTP_" + key
    return environ.get(key)


def parse_authorization(value):
    """Credential scope, signed header names and signature of a SigV4 Authorization header."""
    if not value or not value.startswith(ALGORITHM + " "):
        raise Refused("MissingAuthenticationToken",
                      "Request is missing an AWS Signature Version 4 Authorization header; sign it with this deployment's credentials.")
    fields = {}
    for part in value[len(ALGORITHM) + 1:].split(","):
        name, _sep, field = part.strip().partition("=")
        fields[name] = field
    scope = fields.get("Credential", "").split("/")
    signed = fields.get("SignedHeaders", "").split(";")
    signature = fields.get("Signature", "")
    if len(scope) != 5 or scope[4] != "aws4_request" or not signature or "host" not in signed:
        raise Refused("IncompleteSignature", "The Authorization header is not a valid AWS Signature Version 4 header.")
    return scope, signed, signature


def check_date(amz_date, scope_date, now):
    try:
        when = datetime.datetime.strptime(amz_date or "", "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        raise Refused("IncompleteSignature", "The request has no valid X-Amz-Date header.") from None
    if amz_date[:8] != scope_date:
        raise Refused("SignatureDoesNotMatch", "The credential scope's date is not the X-Amz-Date's.")
    if abs(now - when) > MAX_SKEW:
        raise Refused("RequestExpired", "The request's X-Amz-Date is more than 15 minutes from the emulator's clock.")


def read_body(environ):
    """The whole request body, put back so that moto reads it again."""
    from werkzeug.wsgi import get_input_stream

    body = get_input_stream(environ).read()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["wsgi.input_terminated"] = True
    return body


def expected_signature(environ, body, scope, signed, secret):
    """The signature botocore computes for this request with the deployment's secret."""
    from botocore.auth import S3SigV4Auth, SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
    if not raw_uri.startswith("/"):
        raise Refused("SignatureDoesNotMatch", "The request target must be a path.")
    headers = {}
    for name in signed:
        value = header(environ, name)
        if value is None:
            raise Refused("SignatureDoesNotMatch", "The signed header %s is missing." % name)
        headers[name] = value
    request = AWSRequest(method=environ["REQUEST_METHOD"], url="http://%s%s" % (headers["host"], raw_uri),
                         headers=headers, data=body)
    request.context["timestamp"] = header(environ, "x-amz-date")
    access_key, region, service = scope[0], scope[2], scope[3]
    signer_class = S3SigV4Auth if service == "s3" else SigV4Auth
    signer = signer_class(Credentials(access_key, secret), service, region)
    canonical = signer.canonical_request(request)
    return signer.signature(signer.string_to_sign(request, canonical), request)


def verify(environ, key_pair, now):
    """Raise Refused unless the request is signed with the deployment's key pair (and its body is the signed one)."""
    pair = key_pair.get()
    scope, signed, signature = parse_authorization(header(environ, "authorization"))
    if pair is None or not hmac.compare_digest(scope[0].encode(), pair[0].encode()):
        raise Refused("InvalidClientTokenId", "The AWS access key id is not this deployment's.")
    check_date(header(environ, "x-amz-date"), scope[1], now)
    body = read_body(environ)
    content_sha256 = header(environ, "x-amz-content-sha256")
    if content_sha256 and len(content_sha256) == 64 and content_sha256 != hashlib.sha256(body).hexdigest():
        raise Refused("XAmzContentSHA256Mismatch", "The body does not match its signed X-Amz-Content-SHA256.")
    expected = expected_signature(environ, body, scope, signed, pair[1])
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        raise Refused("SignatureDoesNotMatch", "The request signature does not match the one computed with this deployment's credentials.")


def respond(start_response, status, content_type, body):
    data = body.encode("utf-8")
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(data)))])
    return [data]


class SignedOnly:
    """WSGI middleware: moto's app for signed requests only; moto's control API off."""

    def __init__(self, app, key_pair):
        self.app = app
        self.key_pair = key_pair

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX) or path == "/favicon.ico":
            if path == PROBE_PATH and environ.get("REQUEST_METHOD") in ("GET", "HEAD") and not environ.get("QUERY_STRING"):
                return respond(start_response, "200 OK", "text/plain", "ready\n")
            return self.refuse(start_response, Refused("AccessDenied", "moto's control API is disabled on this emulator."))
        try:
            verify(environ, self.key_pair, datetime.datetime.now(datetime.timezone.utc))
        except Refused as refused:
            return self.refuse(start_response, refused)
        return self.app(environ, start_response)

    @staticmethod
    def refuse(start_response, refused):
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code>'
                '<Message>%s</Message></Error></ErrorResponse>\n' % (refused.code, refused.message))
        return respond(start_response, "403 Forbidden", "application/xml", body)


def load_sibling(name):
    """A module of this program's folder: python -I leaves the folder off sys.path."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def set_process_name(name):
    """Name the process as moto_server is named, so that start-stop-daemon --name finds it (Linux prctl)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)
    except (OSError, AttributeError) as exc:
        log("could not set the process name: %s" % exc)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int)
    parser.add_argument("--credentials", required=True, help="the deployment's AWS credentials file (0600)")
    parser.add_argument("--process-name", default="moto_server")
    parser.add_argument("--generate-credentials", action="store_true",
                        help="write a random key pair to the credentials file when there is none, print what was done, exit")
    args = parser.parse_args(argv)
    if args.generate_credentials:
        print(generate_credentials(os.path.abspath(args.credentials)))
        return
    if args.port is None:
        parser.error("--port is required to serve")
    set_process_name(args.process_name)
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))

    load_sibling("lazy_offerings").install()
    from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    key_pair = KeyPair(os.path.abspath(args.credentials))
    if key_pair.get() is None:
        log("no usable credentials in %s yet: every request is refused until there are" % key_pair.path)
    prices = load_sibling("price_list_api")
    app = SignedOnly(prices.PriceListApi(DomainDispatcherApplication(create_backend_app)), key_pair)
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()

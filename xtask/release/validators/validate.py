#!/usr/bin/env python3
"""Checks one document with the validator its standard publishes.

    validate.py KIND FILE      KIND: cyclonedx, in-toto-provenance, in-toto-statement, openvex, oci-index, oci-manifest
    validate.py versions       the validators' package versions (what `cargo xtask doctor` shows)
    validate.py serve          one check per `KIND<TAB>FILE` line on stdin, one JSON answer line
                               each on stdout: {"code": ..., "stdout": ..., "stderr": ...}

Prints one `<field>: <message>` line per error (the field as a JSON path), exits 1 when the
document is invalid, 0 when it is valid and 2 when it cannot be checked (unreadable file,
missing package: `cargo xtask setup` installs them from xtask/assets/tools/requirements.txt).

`serve` answers exactly what `KIND FILE` would have printed and exited with. The release tool
keeps one such process for its whole run: importing the validators is nearly all of a check's
0.15 s of CPU, and a release checks a dozen documents.

The validators are the standards' own: cyclonedx-python-lib's strict JSON-schema validator,
in-toto-attestation's Statement v1 validator and its SLSA Provenance v1 protobuf, and jsonschema
with the official OpenVEX and OCI image-spec schemas kept unmodified in ../schemas.
"""

import base64
import json
import sys
from pathlib import Path

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
PACKAGES = ("cyclonedx-python-lib", "in-toto-attestation", "jsonschema", "protobuf", "rfc3986-validator", "rfc3987")
SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1"
STATEMENT_TYPE_V1 = "https://in-toto.io/Statement/v1"


class Invalid(Exception):
    """The document breaks its standard: `errors` holds (field, message) pairs."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


def schema_errors(validator, document):
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    return [(e.json_path, e.message) for e in errors]


def cyclonedx(document, text):
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    declared = document.get("specVersion") if isinstance(document, dict) else None
    try:
        version = SchemaVersion.from_version(declared)
    except (ValueError, TypeError):
        raise Invalid([("$.specVersion", f"{declared!r} is no CycloneDX version this validator knows")])
    errors = JsonStrictValidator(version).validate_str(text, all_errors=True)
    if errors:
        found = sorted((e.data for e in errors), key=lambda e: list(e.absolute_path))
        raise Invalid([(e.json_path, e.message) for e in found])


def envelope_statement(document):
    """A DSSE envelope (what `cosign verify-attestation` prints) carries the statement base64-encoded."""
    if isinstance(document, dict) and "payload" in document and "payloadType" in document:
        return json.loads(base64.b64decode(document["payload"]))
    return document


def is_uri(value):
    # RFC 3986, as jsonschema's "uri" format checks it (with rfc3987, which it prefers).
    from jsonschema import FormatChecker

    return FormatChecker(["uri"]).conforms(value, "uri")


STATEMENT_FIELDS = {
    "Wrong statement type": "$._type",
    "At least one subject required": "$.subject",
    "Predicate type required": "$.predicateType",
    "Predicate object required": "$.predicate",
}


def resource_errors(rds, path):
    """Each ResourceDescriptor as in-toto's reference validator requires it, and a URI where it
    names one."""
    from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor

    errors = []
    for i, rd in enumerate(rds):
        try:
            ResourceDescriptor.copy_from_pb(rd).validate()
        except ValueError as e:
            errors.append((f"{path}[{i}]", str(e)))
        if rd.uri and not is_uri(rd.uri):
            errors.append((f"{path}[{i}].uri", f"{rd.uri!r} is not a URI"))
    return errors


def statement_errors(document):
    """The in-toto Statement v1 rules of the reference validator, for any predicate type."""
    from google.protobuf import json_format
    from in_toto_attestation.v1 import statement_pb2
    from in_toto_attestation.v1.statement import Statement

    try:
        pb = json_format.ParseDict(document, statement_pb2.Statement())
    except json_format.ParseError as e:
        raise Invalid([("$", f"not an in-toto Statement v1: {e}")])
    try:
        Statement.copy_from_pb(pb).validate()
    except ValueError as e:
        message = str(e)
        field = STATEMENT_FIELDS.get(message, "$.subject")
        if field == "$._type":
            message = f"{message}: {document.get('_type')!r}, not {STATEMENT_TYPE_V1}"
        return [(field, message)]
    return []


def in_toto_statement(document, _text):
    document = envelope_statement(document)
    errors = statement_errors(document)
    if not is_uri(document.get("predicateType", "")):
        errors.append(("$.predicateType", "the predicate type is not a URI"))
    if errors:
        raise Invalid(errors)


def in_toto_provenance(document, _text):
    from google.protobuf import json_format
    from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
    from in_toto_attestation.v1 import statement_pb2
    from in_toto_attestation.v1.statement import Statement

    document = envelope_statement(document)
    try:
        pb = json_format.ParseDict(document, statement_pb2.Statement())
    except json_format.ParseError as e:
        raise Invalid([("$", f"not an in-toto Statement v1: {e}")])
    errors = []
    try:
        Statement.copy_from_pb(pb).validate()
    except ValueError as e:
        message = str(e)
        field = STATEMENT_FIELDS.get(message, "$.subject")
        if message.startswith("At least one digest required (subject "):
            field = f"$.subject[{message.rsplit(' ', 1)[1].rstrip(')')}].digest"
        if field == "$._type":
            message = f"{message}: {document.get('_type')!r}, not {STATEMENT_TYPE_V1}"
        errors.append((field, message))
    if pb.predicate_type != SLSA_PROVENANCE_V1:
        raise Invalid(errors + [("$.predicateType", f"{pb.predicate_type!r} is not {SLSA_PROVENANCE_V1}")])
    # The predicate is judged too when the statement is not, so that one run lists every error.
    try:
        prov = json_format.ParseDict(document["predicate"], provenance_pb2.Provenance())
    except json_format.ParseError as e:
        raise Invalid(errors + [("$.predicate", f"not an SLSA Provenance v1 predicate: {e}")])
    # in-toto's reference validator for this predicate lives in its Go module
    # (go/predicates/provenance/v1/provenance.go); the PyPI package ships the protobuf only.
    # These are its rules, in its order, with the SLSA v1 spec's TypeURI fields added.
    bd, rd = prov.build_definition, prov.run_details
    if not prov.HasField("build_definition"):
        raise Invalid(errors + [("$.predicate.buildDefinition", "buildDefinition required")])
    if not bd.build_type:
        errors.append(("$.predicate.buildDefinition.buildType", "buildDefinition.buildType required"))
    elif not is_uri(bd.build_type):
        errors.append(("$.predicate.buildDefinition.buildType", f"{bd.build_type!r} is not a URI (SLSA v1: TypeURI)"))
    if not bd.HasField("external_parameters") or len(bd.external_parameters) == 0:
        errors.append(("$.predicate.buildDefinition.externalParameters", "buildDefinition.externalParameters required"))
    errors += resource_errors(bd.resolved_dependencies, "$.predicate.buildDefinition.resolvedDependencies")
    if not prov.HasField("run_details"):
        errors.append(("$.predicate.runDetails", "runDetails required"))
    elif not rd.HasField("builder"):
        errors.append(("$.predicate.runDetails.builder", "runDetails.builder required"))
    else:
        if not rd.builder.id:
            errors.append(("$.predicate.runDetails.builder.id", "runDetails.builder.id required"))
        elif not is_uri(rd.builder.id):
            errors.append(("$.predicate.runDetails.builder.id", f"{rd.builder.id!r} is not a URI (SLSA v1: TypeURI)"))
        errors += resource_errors(rd.builder.builder_dependencies, "$.predicate.runDetails.builder.builderDependencies")
    meta = rd.metadata
    if meta.HasField("started_on") and meta.HasField("finished_on"):
        if meta.finished_on.ToDatetime() < meta.started_on.ToDatetime():
            errors.append(("$.predicate.runDetails.metadata.finishedOn", "finishedOn is before startedOn"))
    errors += resource_errors(rd.byproducts, "$.predicate.runDetails.byproducts")
    if errors:
        raise Invalid(errors)


def openvex(document, _text):
    from jsonschema import Draft202012Validator

    schema = json.loads((SCHEMAS / "openvex/openvex_json_schema.json").read_text())
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = schema_errors(validator, envelope_predicate(document))
    if errors:
        raise Invalid(errors)


def envelope_predicate(document):
    """A VEX attestation carries the OpenVEX document as its statement's predicate."""
    statement = envelope_statement(document)
    if isinstance(statement, dict) and "predicateType" in statement and "predicate" in statement:
        return statement["predicate"]
    return statement


def oci(schema_file):
    def check(document, _text):
        from jsonschema import Draft4Validator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4

        # The schemas refer to each other by file name under ids that differ from file to
        # file (image-spec's own Go loader maps them the same way: by the file's base name).
        def retrieve(uri):
            name = uri.rstrip("/").rsplit("/", 1)[-1]
            return Resource.from_contents(json.loads((SCHEMAS / "oci" / name).read_text()), DRAFT4)

        schema = json.loads((SCHEMAS / "oci" / schema_file).read_text())
        validator = Draft4Validator(schema, registry=Registry(retrieve=retrieve),
                                    format_checker=Draft4Validator.FORMAT_CHECKER)
        errors = schema_errors(validator, document)
        if errors:
            raise Invalid(errors)

    return check


KINDS = {
    "cyclonedx": cyclonedx,
    "in-toto-provenance": in_toto_provenance,
    "in-toto-statement": in_toto_statement,
    "openvex": openvex,
    "oci-index": oci("image-index-schema.json"),
    "oci-manifest": oci("image-manifest-schema.json"),
}


def versions():
    from importlib.metadata import PackageNotFoundError, version

    found, missing = [], []
    for package in PACKAGES:
        try:
            found.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            missing.append(package)
    print(", ".join(found))
    if missing:
        print(f"missing: {' '.join(missing)} (cargo xtask setup installs them)", file=sys.stderr)
        return 2
    return 0


def serve():
    import contextlib
    import io
    import traceback

    for line in sys.stdin:
        kind, _, file = line.rstrip("\n").partition("\t")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = check(kind, file)
            except Exception:  # as the one-shot would end: a traceback, exit 1
                traceback.print_exc()
                code = 1
        answer = {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    return 0


def main(argv):
    if argv[1:] == ["versions"]:
        return versions()
    if argv[1:] == ["serve"]:
        return serve()
    if len(argv) != 3:
        print(f"usage: validate.py {{{','.join(KINDS)}}} FILE | versions | serve", file=sys.stderr)
        return 2
    return check(argv[1], argv[2])


def check(kind, file):
    if kind not in KINDS:
        print(f"usage: validate.py {{{','.join(KINDS)}}} FILE | versions | serve", file=sys.stderr)
        return 2
    try:
        text = Path(file).read_text()
    except OSError as e:
        print(f"cannot read {file}: {e}", file=sys.stderr)
        return 2
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        print(f"$: not JSON: {e}")
        return 1
    try:
        KINDS[kind](document, text)
    except ImportError as e:
        print(f"the validator is not installed ({e}): run `cargo xtask setup`", file=sys.stderr)
        return 2
    except Invalid as e:
        for field, message in e.errors:
            print(f"{field}: {' '.join(str(message).split())}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

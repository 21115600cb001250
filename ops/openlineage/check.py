"""Check OpenLineage RunEvents (JSON lines) with OpenLineage's reference client and report the first failure.

The Go helper openlineage.Check (openlineage.go, next to this file) writes the events of an
export to a file and runs this script on it with the python that setup.sh installs
openlineage-python into. openlineage-python's model classes (openlineage.client.generated.base)
are generated from the spec's JSON schema and carry its validators, so each event is rebuilt
from them (RunEvent, Run, Job, InputDataset, OutputDataset, EventType, and the facet base
class of each place a facet can sit), serialized back with the client's Serde.to_json, and
compared with the event as read: a field the spec's model does not know, a required field
missing, a value the validators refuse (runId not a UUID, eventTime without a time, ...) or an
eventType outside the enum fails the event.

The client's own URI validators only call urlparse, which accepts nearly any string, and it
fills a missing facet _producer with its own default, so this script also checks what the
schema's keywords say and the client does not: "format": "uri" (producer, schemaURL, every
facet's _producer and _schemaURL: absolute, with a scheme), "format": "date-time" (eventTime:
RFC 3339 with an offset), "type": "string" (names, namespaces) and BaseFacet's "required"
(_producer and _schemaURL present). An event's schemaURL must name the RunEvent definition of
the spec version the client models, the version the check proves.

usage: python check.py EVENTS.jsonl
prints one JSON object: {"client": ..., "schemaURL": ..., "events": N}
                     or {"client": ..., "events": N, "event": K, "error": ...} (K counts from 1)
and exits 1 on a failure.
"""

import importlib.metadata
import json
import re
import sys
from urllib.parse import urlsplit

import attr
from openlineage.client.generated import base
from openlineage.client.serde import Serde

# RFC 3339 date-time, the JSON schema's "date-time" format: a time and an offset are required.
DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")


class Invalid(Exception):
    """The event breaks the spec; the message says where and how."""


def string(value, where):
    if not isinstance(value, str):
        raise Invalid(f"{where}: {value!r} is not a string")
    return value


def uri(value, where):
    """JSON schema "format": "uri": an absolute URI (RFC 3986), so a scheme and no whitespace."""
    string(value, where)
    if not SCHEME.fullmatch(urlsplit(value).scheme) or any(c.isspace() for c in value):
        raise Invalid(f"{where}: {value!r} is not an absolute URI")
    return value


def obj(value, where):
    if not isinstance(value, dict):
        raise Invalid(f"{where}: {value!r} is not an object")
    return value


def facets(value, cls, where):
    """A facet map: each facet rebuilt as cls (a BaseFacet subclass) with its extra properties."""
    if value is None:
        return {}
    out = {}
    for name, f in obj(value, where).items():
        at = f"{where}.{name}"
        obj(f, at)
        for key in ("_producer", "_schemaURL"):
            if key not in f:
                raise Invalid(f"{at}: {key} is missing (BaseFacet requires it)")
            uri(f[key], f"{at}.{key}")
        known = {a.name: a.alias for a in attr.fields(cls) if a.init}
        kwargs = {known[k]: v for k, v in f.items() if k in known}
        extra = {k: v for k, v in f.items() if k not in known and k != "_schemaURL"}
        facet = cls(**kwargs).with_additional_properties(**extra)
        # _schemaURL is not an init argument: the client sets its base class's; a custom facet
        # names its own definition, so set it and run the validators again.
        facet._schemaURL = f["_schemaURL"]
        attr.validate(facet)
        out[name] = facet
    return out


def dataset(d, cls, facet_key, facet_cls, where):
    obj(d, where)
    kwargs = {
        "namespace": string(d.get("namespace"), where + ".namespace"),
        "name": string(d.get("name"), where + ".name"),
        "facets": facets(d.get("facets"), base.DatasetFacet, where + ".facets"),
        facet_key: facets(d.get(facet_key), facet_cls, f"{where}.{facet_key}"),
    }
    return cls(**kwargs)


def datasets(value, cls, facet_key, facet_cls, where):
    if not isinstance(value, list):
        raise Invalid(f"{where}: {value!r} is not an array")
    return [dataset(d, cls, facet_key, facet_cls, f"{where}[{i}]") for i, d in enumerate(value)]


def rebuild(e):
    """The event e (parsed JSON) as the client's RunEvent; raises on what the spec refuses."""
    obj(e, "event")
    for key in ("eventTime", "producer", "schemaURL", "run", "job"):
        if key not in e:
            raise Invalid(f"{key} is missing (RunEvent requires it)")
    if not DATE_TIME.fullmatch(string(e["eventTime"], "eventTime")):
        raise Invalid(f"eventTime: {e['eventTime']!r} is not an RFC 3339 date-time")
    uri(e["producer"], "producer")
    uri(e["schemaURL"], "schemaURL")
    run, job = obj(e["run"], "run"), obj(e["job"], "job")
    event_type = e.get("eventType")
    kwargs = {
        "eventTime": e["eventTime"],
        "producer": e["producer"],
        "eventType": None if event_type is None else base.EventType(event_type),
        "run": base.Run(runId=string(run.get("runId"), "run.runId"), facets=facets(run.get("facets"), base.RunFacet, "run.facets")),
        "job": base.Job(
            namespace=string(job.get("namespace"), "job.namespace"),
            name=string(job.get("name"), "job.name"),
            facets=facets(job.get("facets"), base.JobFacet, "job.facets"),
        ),
    }
    if "inputs" in e:
        kwargs["inputs"] = datasets(e["inputs"], base.InputDataset, "inputFacets", base.InputDatasetFacet, "inputs")
    if "outputs" in e:
        kwargs["outputs"] = datasets(e["outputs"], base.OutputDataset, "outputFacets", base.OutputDatasetFacet, "outputs")
    ev = base.RunEvent(**kwargs)
    if e["schemaURL"] != ev.schemaURL:
        raise Invalid(f"schemaURL: {e['schemaURL']!r}, but the client models {ev.schemaURL!r}")
    return ev


def prune(v):
    """Drops empty objects and arrays: the client writes absent facet maps and dataset lists as
    {} and [], which mean the same (both are optional)."""
    if isinstance(v, dict):
        return {k: prune(x) for k, x in v.items() if x != {} and x != []}
    if isinstance(v, list):
        return [prune(x) for x in v]
    return v


def difference(want, got, where="event"):
    """The first path where got (the client's serialization) differs from want (ours), or None."""
    if isinstance(want, dict) and isinstance(got, dict):
        for k in sorted(set(want) | set(got)):
            if k not in got:
                return f"{where}.{k}: written by us, unknown to the spec's model"
            if k not in want:
                return f"{where}.{k}: required by the spec's model, missing"
            d = difference(want[k], got[k], f"{where}.{k}")
            if d:
                return d
        return None
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return f"{where}: {len(want)} elements, the client keeps {len(got)}"
        for i, (w, g) in enumerate(zip(want, got)):
            d = difference(w, g, f"{where}[{i}]")
            if d:
                return d
        return None
    if want != got or type(want) is not type(got):
        return f"{where}: we wrote {want!r}, the client serializes {got!r}"
    return None


def main() -> int:
    client = "openlineage-python " + importlib.metadata.version("openlineage-python")
    schema_url = None
    n = 0
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            n += 1
            try:
                ours = json.loads(line)
                ev = rebuild(ours)
                theirs = json.loads(Serde.to_json(ev))
                d = difference(prune(ours), prune(theirs))
                if d:
                    raise Invalid(d)
                schema_url = ev.schemaURL
            except Exception as e:  # the client's validators raise ValueError, TypeError, ...
                reason = str(e) if isinstance(e, Invalid) else f"{type(e).__name__}: {e}"
                print(json.dumps({"client": client, "events": n - 1, "event": n, "error": reason}))
                return 1
    print(json.dumps({"client": client, "schemaURL": schema_url, "events": n}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

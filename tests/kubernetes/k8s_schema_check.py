"""Validates Kubernetes manifests against the official JSON Schemas shipped by
kubernetes-validate (strict variants: unknown fields are errors), reporting
ALL errors of every object, not just the first (which is all the package's own
CLI prints).

usage: python k8s_schema_check.py MANIFESTS.json VERSION [VERSION ...]
  MANIFESTS.json: a JSON array of {"source": <label>, "object": <manifest>}
  VERSION: a Kubernetes version such as 1.33.0

Prints one JSON document: {"checked": N, "versions": [...], "errors": [
  {"version", "source", "object": "Kind/name", "path", "message"}]}.
Exits 0 (the caller decides); exits 2 on a usage or setup problem.
"""

import importlib.resources
import json
import sys

import jsonschema
from referencing import Registry, Resource

DEFINITIONS = "https://kubernetes.io/api/_definitions.json"


def schema_file(doc):
    group, _, version = doc["apiVersion"].rpartition("/")
    group = group.split(".")[0] + "-" if group else ""
    return f'{doc["kind"].lower()}-{group}{version}.json'


def validators(version):
    base = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema" / f"v{version}-local-strict"
    if not base.is_dir():
        sys.exit(f"no schemas for Kubernetes {version} in kubernetes-validate")
    definitions = Resource.from_contents(json.loads((base / "_definitions.json").read_text()))
    cache = {}

    def get(doc):
        name = schema_file(doc)
        if name not in cache:
            path = base / name
            if not path.is_file():
                cache[name] = None
            else:
                schema = json.loads(path.read_text())
                registry = Registry().with_resources(
                    [(schema["$id"], Resource.from_contents(schema)), (DEFINITIONS, definitions)]
                )
                cache[name] = jsonschema.Draft202012Validator(schema, registry=registry)
        return cache[name]

    return get


def main():
    if len(sys.argv) < 3:
        sys.exit(2)
    with open(sys.argv[1]) as f:
        items = json.load(f)
    errors = []
    versions = sys.argv[2:]
    for version in versions:
        get = validators(version)
        for item in items:
            doc = item["object"]
            label = f'{doc.get("kind")}/{doc.get("metadata", {}).get("name")}'
            validator = get(doc)
            if validator is None:
                errors.append({"version": version, "source": item["source"], "object": label,
                               "path": "", "message": f"no schema {schema_file(doc)}"})
                continue
            for e in validator.iter_errors(doc):
                errors.append({
                    "version": version,
                    "source": item["source"],
                    "object": label,
                    "path": ".".join(map(str, e.absolute_path)),
                    "message": e.message[:300],
                })
    json.dump({"checked": len(items), "versions": versions, "errors": errors}, sys.stdout)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Checks that the kustomize tree builds the same objects as `assay generate`.

Usage: check_kustomize.py ASSAY_OUTPUT.yaml KUSTOMIZE_OUTPUT.yaml

Fails (exit 1) unless both streams hold the same set of (kind, name) objects.
Then compares each object's contents (parsed, so key order and YAML style do
not count) and prints every path where they differ.
"""

import sys

import yaml


def objects(path):
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    out = {}
    for d in docs:
        key = (d["kind"], d["metadata"]["name"])
        if key in out:
            sys.exit(f"{path}: {key} twice")
        out[key] = d
    return out


def experiment_id(objs):
    for (kind, _), d in objs.items():
        if kind == "Experiment":
            return d["metadata"]["name"].rsplit("-", 1)[-1]
    return None


def diff(a, b, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            p = f"{path}.{k}"
            if k not in a:
                yield f"{p}: only in kustomize ({b[k]!r})"
            elif k not in b:
                yield f"{p}: only in assay ({a[k]!r})"
            else:
                yield from diff(a[k], b[k], p)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            yield from diff(x, y, f"{path}[{i}]")
    elif a != b:
        yield f"{path}: assay {a!r} != kustomize {b!r}"


def main():
    assay, kust = objects(sys.argv[1]), objects(sys.argv[2])
    only_a, only_k = sorted(set(assay) - set(kust)), sorted(set(kust) - set(assay))
    for k in only_a:
        print(f"only in assay: {k[0]}/{k[1]}")
    for k in only_k:
        print(f"only in kustomize: {k[0]}/{k[1]}")
    if only_a or only_k:
        ids = [experiment_id(x) for x in (assay, kust)]
        if None not in ids and ids[0] != ids[1]:
            new, old = ids
            print(
                f"the experiment id is now {new} (the kustomize tree has {old}); update it with\n"
                f"  grep -rl {old} benches/kustomize | xargs sed -i s/{old}/{new}/g"
            )
        return 1
    same = 0
    for key in sorted(assay):
        lines = list(diff(assay[key], kust[key]))
        if lines:
            print(f"{key[0]}/{key[1]}:")
            for line in lines:
                print(f"  {line}")
        else:
            same += 1
    print(f"objects: {len(assay)} in both; identical contents: {same}/{len(assay)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

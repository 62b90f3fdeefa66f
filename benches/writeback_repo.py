#!/usr/bin/env python3
"""Env-repository fixture for benches/writeback.sh, as a `git fast-import`
stream on stdout.

    writeback_repo.py --sample samples/bookinfo --support tests/it/support/mod.rs \
        --files 20000 --commits 5000 --specs-out DIR APP...

Each APP gets `envs/APP/`: a copy of the sample directory. Its assay.yaml is
the sample's steady state (metadata.name set to APP, unless APP is
`bookinfo`, which keeps the sample's name) from the first commit on; the last
commit proposes BOOKINFO_CANDIDATE (the integration tests' candidate v2,
inserted before `  traffic:`) in every APP at once. Filler files (small
ConfigMap YAMLs, 100 to a directory under `components/`) make up the rest of
`--files`. The first commit adds everything; each of the commits in between
edits 3 filler files; so the branch `main` has exactly `--commits` commits
and its head exactly `--files` files.

`--specs-out DIR` also writes DIR/APP/ (the sample directory with the
candidate assay.yaml), so that `assay validate DIR/APP/assay.yaml` gives
the experiment id of APP.
"""

import argparse
import ast
import hashlib
import os
import random
import re
import sys

EPOCH = 1_700_000_000  # first commit's time; one commit an hour after it
PER_DIR = 100
EDITS_PER_COMMIT = 3


def candidate_block(support):
    text = open(support, encoding="utf-8").read()
    lit = re.search(r'BOOKINFO_CANDIDATE: &str = ("(?:[^"\\]|\\.)*");', text)
    if lit is None:
        sys.exit("writeback_repo.py: BOOKINFO_CANDIDATE not found in " + support)
    return ast.literal_eval(lit.group(1))


def with_candidate(spec, block):
    at = spec.index("  traffic:\n")
    return spec[:at] + block + spec[at:]


def named(spec, app):
    if app == "bookinfo":
        return spec
    out, n = re.subn(r"(?m)^(metadata:\n  name: )\S+$", r"\g<1>" + app, spec, count=1)
    if n != 1:
        sys.exit("writeback_repo.py: no metadata.name in the sample's assay.yaml")
    return out


def filler(i, revision):
    d = i // PER_DIR
    h = hashlib.sha256(f"{i}:{revision}".encode()).hexdigest()
    return (
        f"# component c{d:03d}, resource {i:05d}\n"
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata:\n"
        f"  name: c{d:03d}-cm{i:05d}\n"
        f"  labels: {{app.kubernetes.io/part-of: c{d:03d}, tier: t{i % 7}}}\n"
        "data:\n"
        f'  revision: "{revision}"\n'
        f'  checksum: "{h[:40]}"\n'
        f"  replicas: \"{1 + i % 5}\"\n"
        f"  endpoint: http://c{d:03d}-svc{i % 13}.default.svc:8{i % 1000:03d}\n"
    ).encode()


def filler_path(i):
    return f"components/c{i // PER_DIR:03d}/cm{i:05d}.yaml"


class Stream:
    def __init__(self, out):
        self.out = out

    def raw(self, s):
        self.out.write(s.encode() if isinstance(s, str) else s)

    def data(self, payload):
        self.raw(f"data {len(payload)}\n")
        self.raw(payload)
        self.raw("\n")

    def commit(self, n, message, files, parent):
        when = EPOCH + 3600 * n
        self.raw("commit refs/heads/main\n")
        self.raw(f"mark :{n}\n")
        self.raw(f"author Env Bot <env-bot@example.com> {when} +0000\n")
        self.raw(f"committer Env Bot <env-bot@example.com> {when} +0000\n")
        self.data(message.encode())
        if parent:
            self.raw(f"from :{n - 1}\n")
        for path, payload in files:
            self.raw(f"M 100644 inline {path}\n")
            self.data(payload)
        self.raw("\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sample", required=True)
    ap.add_argument("--support", required=True)
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--commits", type=int, default=5_000)
    ap.add_argument("--specs-out", required=True)
    ap.add_argument("apps", nargs="+")
    a = ap.parse_args()

    block = candidate_block(a.support)
    sample = {}
    for name in sorted(os.listdir(a.sample)):
        p = os.path.join(a.sample, name)
        if os.path.isfile(p):
            sample[name] = open(p, encoding="utf-8").read()
    if "assay.yaml" not in sample:
        sys.exit("writeback_repo.py: the sample has no assay.yaml")
    n_filler = a.files - len(sample) * len(a.apps)
    if n_filler < 0 or a.commits < 2:
        sys.exit("writeback_repo.py: --files too small or --commits < 2")

    first = []
    proposals = []
    for app in a.apps:
        steady = named(sample["assay.yaml"], app)
        cand = with_candidate(steady, block)
        for name, text in sample.items():
            first.append((f"envs/{app}/{name}", (steady if name == "assay.yaml" else text).encode()))
        proposals.append((f"envs/{app}/assay.yaml", cand.encode()))
        os.makedirs(os.path.join(a.specs_out, app), exist_ok=True)
        for name, text in sample.items():
            with open(os.path.join(a.specs_out, app, name), "w", encoding="utf-8") as f:
                f.write(cand if name == "assay.yaml" else text)

    out = Stream(sys.stdout.buffer)
    first += [(filler_path(i), filler(i, 0)) for i in range(n_filler)]
    out.commit(1, "Initial import of the environments\n", first, parent=False)

    rng = random.Random(20_000_5_000)
    revision = [0] * n_filler
    for n in range(2, a.commits):
        files = []
        for i in sorted(rng.sample(range(n_filler), EDITS_PER_COMMIT)):
            revision[i] += 1
            files.append((filler_path(i), filler(i, revision[i])))
        out.commit(n, f"components: roll {len(files)} config maps (change {n})\n", files, parent=True)
    names = ", ".join(a.apps) if len(a.apps) <= 3 else f"{len(a.apps)} apps"
    out.commit(a.commits, f"ci: propose candidate v2 for {names}\n", proposals, parent=True)
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()

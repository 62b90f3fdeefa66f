#!/usr/bin/env python3
"""Copies samples/install/crd.yaml into the Helm values' extraObjects (run from the
repository root after `assay crd > samples/install/crd.yaml`): the chart runs
extraObjects through `tpl`, so literal double braces are escaped, and the CRD
is kept on `helm uninstall`. tests/it/install.rs fails when the two differ."""
crd=open('samples/install/crd.yaml').read().rstrip('\n').split('\n')
assert crd[2]=='metadata:' and crd[3].startswith('  name:')
crd=crd[:3]+['  annotations:','    helm.sh/resource-policy: keep']+crd[3:]
out=[]
for i,l in enumerate(crd):
    l=l.replace('{{','{{ "{{" }}')
    out.append(('  - ' if i==0 else '    ')+l)
p='samples/install/helm/values.yaml'
s=open(p).read()
head=s[:s.index('extraObjects:\n')+len('extraObjects:\n')]
open(p,'w').write(head+'\n'.join(out)+'\n')

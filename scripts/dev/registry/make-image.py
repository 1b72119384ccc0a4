#!/usr/bin/env python3
"""Writes a test image as an OCI image layout (deterministic: same arguments, same digests).

Usage:
  make-image.py OUT_LAYOUT [--tag latest] [--platform linux/amd64] [--index-with PLATFORM]...
                [--index] [--attestation]
                [--compression gzip|zstd|none] --layer SPEC [--compression …] [--layer SPEC]…
                [--config-env K=V]... [--entrypoint ARGV] [--cmd ARGV] [--workdir DIR]
                [--user USER] [--expose 8080/tcp]... [--label K=V]... [--stop-signal SIG]

Layers, in order (the first is the bottom one). A SPEC is either an existing directory (tarred
recursively, owner root, mtime fixed) or a list of entries separated by ';':
  f:PATH=TEXT          regular file, mode 0644 (TEXT may use \\n, \\t, \\\\ escapes)
  x:PATH=TEXT          regular file, mode 0755
  c:PATH=HOSTFILE      a copy of a host file (e.g. c:bin/busybox=/bin/busybox), mode kept
  r:PATH=SIZE          SIZE pseudo-random bytes (deterministic; for big blobs)
  z:PATH=SIZE          SIZE zero bytes (compresses to almost nothing: a decompression bomb)
  d:PATH               directory, mode 0755
  l:PATH->TARGET       symlink
  h:PATH->TARGET       hard link to TARGET (an earlier entry of the same layer)
  w:PATH               whiteout: deletes PATH from lower layers (writes DIR/.wh.NAME)
  o:DIR                opaque directory (writes DIR/.wh..wh..opq)
--compression applies to the --layer options that FOLLOW it (default gzip), so one image can mix
gzip, zstd and uncompressed layers.

Platforms: --platform is the image's (default linux/amd64). Each --index-with PLATFORM adds
another platform-specific manifest (same layers, config with that os/architecture/variant) and
makes the layout's tag point at an OCI image index; --index forces an index for one platform;
--attestation adds a Docker-style attestation manifest (platform unknown/unknown, annotation
vnd.docker.reference.type=attestation-manifest) for the first platform.

--entrypoint/--cmd take a JSON array ('["/bin/sh","-c","echo hi"]') or a shell-split string.

Prints a JSON summary on stdout:
  {"tag", "digest" (what the tag points at), "mediaType",
   "images": [{"platform", "digest", "size", "config": {"digest","size"},
               "layers": [{"digest","size","mediaType","diffID"}]}]}
Push the layout with `registry.sh push DIR OUT_LAYOUT:TAG REPO:TAG` (skopeo copy --all
--preserve-digests keeps every digest).
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import random
import shlex
import subprocess
import sys
import tarfile

MTIME = 1700000000
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_TYPES = {"none": "application/vnd.oci.image.layer.v1.tar",
               "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
               "zstd": "application/vnd.oci.image.layer.v1.tar+zstd"}


class Layout:
    def __init__(self, path):
        self.path = path
        os.makedirs(os.path.join(path, "blobs", "sha256"), exist_ok=True)
        with open(os.path.join(path, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)

    def put(self, data):
        h = hashlib.sha256(data).hexdigest()
        p = os.path.join(self.path, "blobs", "sha256", h)
        if not os.path.exists(p):
            with open(p, "wb") as f:
                f.write(data)
        return "sha256:" + h, len(data)

    def put_json(self, obj):
        return self.put(json.dumps(obj, separators=(",", ":"), sort_keys=True).encode())


def unescape(s):
    return s.encode().decode("unicode_escape")


def tarinfo(name, typ=tarfile.REGTYPE, mode=0o644, size=0):
    ti = tarfile.TarInfo(name.strip("/"))
    ti.type, ti.mode, ti.size = typ, mode, size
    ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = MTIME, 0, 0, "", ""
    return ti


def build_tar(spec):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        if os.path.isdir(spec):
            def norm(ti):
                ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = MTIME, 0, 0, "", ""
                return ti
            for entry in sorted(os.listdir(spec)):
                tar.add(os.path.join(spec, entry), arcname=entry, filter=norm)
        else:
            for item in (e for e in spec.split(";") if e.strip()):
                kind, _, rest = item.strip().partition(":")
                if kind in ("f", "x", "c", "r", "z"):
                    path, _, value = rest.partition("=")
                    if kind == "c":
                        data = open(value, "rb").read()
                        mode = os.stat(value).st_mode & 0o7777
                    elif kind == "r":
                        data = random.Random(path + value).randbytes(int(value))
                        mode = 0o644
                    elif kind == "z":
                        data = bytes(int(value))
                        mode = 0o644
                    else:
                        data = unescape(value).encode()
                        mode = 0o755 if kind == "x" else 0o644
                    tar.addfile(tarinfo(path, mode=mode, size=len(data)), io.BytesIO(data))
                elif kind == "d":
                    tar.addfile(tarinfo(rest, tarfile.DIRTYPE, 0o755))
                elif kind in ("l", "h"):
                    path, _, target = rest.partition("->")
                    ti = tarinfo(path, tarfile.SYMTYPE if kind == "l" else tarfile.LNKTYPE, 0o777 if kind == "l" else 0o644)
                    ti.linkname = target if kind == "l" else target.strip("/")
                    tar.addfile(ti)
                elif kind == "w":
                    d, _, base = rest.strip("/").rpartition("/")
                    tar.addfile(tarinfo((d + "/" if d else "") + ".wh." + base))
                elif kind == "o":
                    tar.addfile(tarinfo(rest.strip("/") + "/.wh..wh..opq"))
                else:
                    sys.exit(f"make-image.py: unknown layer entry '{item}'")
    return buf.getvalue()


def compress(data, how):
    if how == "none":
        return data
    if how == "gzip":
        return gzip.compress(data, compresslevel=6, mtime=0)
    return subprocess.run(["zstd", "-q", "-c", "-3", "--no-progress"], input=data, check=True,
                          stdout=subprocess.PIPE).stdout


def parse_platform(s):
    parts = s.split("/")
    if len(parts) not in (2, 3):
        sys.exit(f"make-image.py: bad platform '{s}'")
    p = {"os": parts[0], "architecture": parts[1]}
    if len(parts) == 3:
        p["variant"] = parts[2]
    return p


def argv_value(s):
    s = s.strip()
    return json.loads(s) if s.startswith("[") else shlex.split(s)


class CompressionAction(argparse.Action):
    def __call__(self, parser, ns, value, option_string=None):
        ns.compression = value


class LayerAction(argparse.Action):
    def __call__(self, parser, ns, value, option_string=None):
        ns.layers = (ns.layers or []) + [(value, ns.compression)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--tag", default="latest")
    ap.add_argument("--platform", default="linux/amd64")
    ap.add_argument("--index-with", action="append", default=[])
    ap.add_argument("--index", action="store_true")
    ap.add_argument("--attestation", action="store_true")
    ap.add_argument("--compression", action=CompressionAction, choices=["gzip", "zstd", "none"], default="gzip")
    ap.add_argument("--layer", dest="layers", action=LayerAction, default=[])
    ap.add_argument("--config-env", action="append", default=[])
    ap.add_argument("--entrypoint")
    ap.add_argument("--cmd")
    ap.add_argument("--workdir")
    ap.add_argument("--user")
    ap.add_argument("--expose", action="append", default=[])
    ap.add_argument("--label", action="append", default=[])
    ap.add_argument("--stop-signal")
    a = ap.parse_args()

    layout = Layout(a.out)
    layers, diff_ids, history = [], [], []
    for spec, how in a.layers:
        tar = build_tar(spec)
        blob = compress(tar, how)
        digest, size = layout.put(blob)
        layers.append({"mediaType": LAYER_TYPES[how], "digest": digest, "size": size})
        diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
        history.append({"created": "2023-11-14T22:13:20Z", "created_by": f"make-image.py layer ({how})"})

    cfg = {}
    if a.config_env:
        cfg["Env"] = a.config_env
    if a.entrypoint is not None:
        cfg["Entrypoint"] = argv_value(a.entrypoint)
    if a.cmd is not None:
        cfg["Cmd"] = argv_value(a.cmd)
    if a.workdir:
        cfg["WorkingDir"] = a.workdir
    if a.user:
        cfg["User"] = a.user
    if a.expose:
        cfg["ExposedPorts"] = {p: {} for p in a.expose}
    if a.label:
        cfg["Labels"] = dict(l.split("=", 1) for l in a.label)
    if a.stop_signal:
        cfg["StopSignal"] = a.stop_signal

    platforms = [parse_platform(a.platform)] + [parse_platform(p) for p in a.index_with]
    images, entries = [], []
    for p in platforms:
        config = dict(p, created="2023-11-14T22:13:20Z", config=cfg,
                      rootfs={"type": "layers", "diff_ids": diff_ids}, history=history)
        cdigest, csize = layout.put_json(config)
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": OCI_CONFIG, "digest": cdigest, "size": csize},
                    "layers": layers}
        mdigest, msize = layout.put_json(manifest)
        name = "/".join([p["os"], p["architecture"]] + ([p["variant"]] if "variant" in p else []))
        images.append({"platform": name, "digest": mdigest, "size": msize,
                       "config": {"digest": cdigest, "size": csize},
                       "layers": [dict(l, diffID=d) for l, d in zip(layers, diff_ids)]})
        entries.append({"mediaType": OCI_MANIFEST, "digest": mdigest, "size": msize, "platform": p})

    if a.attestation:
        statement = json.dumps({"_type": "https://in-toto.io/Statement/v0.1",
                                "predicateType": "https://spdx.dev/Document", "subject": []}).encode()
        sdigest, ssize = layout.put(statement)
        acfg, acsize = layout.put_json({"architecture": "unknown", "os": "unknown", "config": {},
                                        "rootfs": {"type": "layers", "diff_ids": [sdigest]}})
        amanifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                     "config": {"mediaType": OCI_CONFIG, "digest": acfg, "size": acsize},
                     "layers": [{"mediaType": "application/vnd.in-toto+json", "digest": sdigest, "size": ssize,
                                 "annotations": {"in-toto.io/predicate-type": "https://spdx.dev/Document"}}]}
        adigest, asize = layout.put_json(amanifest)
        entries.append({"mediaType": OCI_MANIFEST, "digest": adigest, "size": asize,
                        "platform": {"architecture": "unknown", "os": "unknown"},
                        "annotations": {"vnd.docker.reference.digest": entries[0]["digest"],
                                        "vnd.docker.reference.type": "attestation-manifest"}})

    if len(entries) > 1 or a.index:
        idigest, isize = layout.put_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
        top = {"mediaType": OCI_INDEX, "digest": idigest, "size": isize}
    else:
        top = {k: entries[0][k] for k in ("mediaType", "digest", "size")}

    index_path = os.path.join(a.out, "index.json")
    index = {"schemaVersion": 2, "manifests": []}
    if os.path.exists(index_path):
        index = json.load(open(index_path))
    ref_key = "org.opencontainers.image.ref.name"
    index["manifests"] = [m for m in index.get("manifests", []) if m.get("annotations", {}).get(ref_key) != a.tag]
    index["manifests"].append(dict(top, annotations={ref_key: a.tag}))
    with open(index_path, "w") as f:
        json.dump(index, f, indent=1)
    json.dump({"tag": a.tag, "digest": top["digest"], "mediaType": top["mediaType"], "images": images},
              sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()

"""Invariants of the rendered chart that Kubernetes' schemas cannot check.

    python check_rendered.py RENDERED.yaml VALUES.yaml

- exactly one Dapr state store, of a `state.*` type, marked
  `actorStateStore: "true"`, named as the nodes' `--state=dapr:NAME`;
- the node pods carry Dapr's annotations (enabled, app-id == --app-id,
  app-port == the HTTP port) and Prometheus' (port == --metrics-port);
- no node port collides with the sidecar's (3500, 50001, 50002, 9090) or
  with another node port;
- every node uses one placement and one scheduler address, and when the
  chart deploys them the address names the chart's Service and port;
- the containers run non-root with a read-only root file system, and the
  node's data dir is a writable volume;
- a PodDisruptionBudget selects the node pods; probes hit /v1.0/healthz;
- the memory request covers 40 KiB per live actor;
- with `tls.secretName`, every wapr container (nodes, and the placement
  and Scheduler the chart deploys) reads `--tls-*` from files of a
  read-only mount of that Secret and checks `tls.serverName`; without it,
  none has a `WAPR_TLS_*` variable.
"""

import re
import sys

import yaml

SIDECAR_PORTS = {3500, 50001, 50002, 9090}


def fail(message):
    print(f"check_rendered: {message}", file=sys.stderr)
    sys.exit(1)


def mebibytes(quantity):
    m = re.fullmatch(r"([0-9.]+)(Ki|Mi|Gi|Ti)?", str(quantity))
    if not m:
        fail(f"unparsed quantity {quantity}")
    scale = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024 * 1024, None: 1 / 1024 / 1024}
    return float(m.group(1)) * scale[m.group(2)]


def main(rendered_path, values_path):
    docs = [d for d in yaml.safe_load_all(open(rendered_path)) if d]
    values = yaml.safe_load(open(values_path)) or {}
    by_kind = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)

    stores = [
        c for c in by_kind.get("Component", []) if c["spec"]["type"].startswith("state.")
    ]
    if len(stores) != 1:
        fail(f"{len(stores)} state store components, want 1")
    store = stores[0]
    meta = {m["name"]: m.get("value") for m in store["spec"]["metadata"]}
    if meta.get("actorStateStore") != "true":
        fail("the state store is not marked actorStateStore: \"true\"")

    nodes = [
        d for d in by_kind.get("Deployment", [])
        if d["metadata"]["labels"].get("app.kubernetes.io/component") == "node"
    ]
    if len(nodes) != 1:
        fail(f"{len(nodes)} node deployments")
    node = nodes[0]
    pod = node["spec"]["template"]
    annotations = pod["metadata"]["annotations"]
    container = next(c for c in pod["spec"]["containers"] if c["name"] == "wapr")
    args = {}
    for arg in container["args"][1:]:
        key, _, value = arg.partition("=")
        args.setdefault(key, []).append(value)
    env = {e["name"]: e.get("value") for e in container["env"]}

    if args["--state"] != [f"dapr:{store['metadata']['name']}"]:
        fail(f"nodes write to {args['--state']}, the component is {store['metadata']['name']}")
    if annotations.get("dapr.io/enabled") != "true":
        fail("node pods are not Dapr-enabled")
    if annotations.get("dapr.io/app-id") != env["WAPR_APP_ID"]:
        fail("dapr.io/app-id differs from the nodes' app id")
    if store.get("scopes") and env["WAPR_APP_ID"] not in store["scopes"]:
        fail("the state store is not scoped to the nodes' app id")
    http, metrics, internal = (int(args[f][0]) for f in ("--http-port", "--metrics-port", "--internal-port"))
    if int(annotations["dapr.io/app-port"]) != http:
        fail("dapr.io/app-port is not the nodes' HTTP port")
    if int(annotations.get("prometheus.io/port", metrics)) != metrics:
        fail("prometheus.io/port is not the metrics port")
    ports = [http, metrics, internal]
    if len(set(ports)) != 3 or SIDECAR_PORTS & set(ports):
        fail(f"node ports {ports} collide (with each other or the sidecar's {sorted(SIDECAR_PORTS)})")
    declared = {p["containerPort"] for p in container["ports"]}
    if declared != set(ports):
        fail(f"container ports {declared} are not the ports the node listens on {ports}")

    for flag, component, key in (("--placement", "placement", "placement"), ("--scheduler", "scheduler", "scheduler")):
        addresses = args.get(flag, [])
        if len(addresses) != 1 or not addresses[0]:
            fail(f"nodes have {addresses} for {flag}")
        if values.get(key, {}).get("deploy", True):
            services = [
                s for s in by_kind.get("Service", [])
                if s["metadata"]["labels"].get("app.kubernetes.io/component") == component
            ]
            if len(services) != 1:
                fail(f"{len(services)} {component} services")
            service = services[0]
            want = f"{service['metadata']['name']}:{service['spec']['ports'][0]['port']}"
            if addresses[0] != want:
                fail(f"{flag}={addresses[0]}, the chart's service is {want}")

    for doc in docs:
        spec = doc.get("spec", {}).get("template", {}).get("spec")
        if not spec:
            continue
        for c in spec["containers"]:
            sc = c.get("securityContext", {})
            if not (sc.get("readOnlyRootFilesystem") and sc.get("runAsNonRoot") and sc.get("allowPrivilegeEscalation") is False):
                fail(f"{doc['metadata']['name']}/{c['name']} is not non-root with a read-only root fs")
    mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
    if env.get("WAPR_DATA_DIR") not in mounts:
        fail("the nodes' data dir is not a writable volume")
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        if container[probe]["httpGet"]["path"] != "/v1.0/healthz":
            fail(f"{probe} does not hit /v1.0/healthz")
    if "preStop" not in container.get("lifecycle", {}):
        fail("no preStop on the nodes")

    pdbs = by_kind.get("PodDisruptionBudget", [])
    if values.get("podDisruptionBudget", {}).get("enabled", True):
        selector = node["spec"]["selector"]["matchLabels"]
        if not any(p["spec"]["selector"]["matchLabels"] == selector for p in pdbs):
            fail("no PodDisruptionBudget selects the node pods")

    endpoint = (values.get("tracing") or {}).get("otlpEndpoint") or ""
    if env.get("WAPR_OTLP_ENDPOINT", "") != endpoint:
        fail(f"nodes export traces to {env.get('WAPR_OTLP_ENDPOINT')!r}, values say {endpoint!r}")
    if endpoint and "WAPR_TRACE_SAMPLING_RATE" not in env:
        fail("an OTLP endpoint without a sampling rate")

    check_tls(docs, values)

    live = int(args["--max-live-actors"][0])
    request = mebibytes(container["resources"]["requests"]["memory"])
    if request < live * 40 / 1024:
        fail(f"memory request {request} MiB is below 40 KiB x {live} live actors")
    print(f"check_rendered: ok ({len(docs)} objects, {live} live actors/node, {request:.0f} MiB requested)")


def check_tls(docs, values):
    tls = values.get("tls") or {}
    secret = tls.get("secretName") or ""
    server_name = tls.get("serverName") or "wapr-node"
    files = {"WAPR_TLS_CERT": "tls.crt", "WAPR_TLS_KEY": "tls.key", "WAPR_TLS_CA": "ca.crt"}
    wapr_pods = 0
    for doc in docs:
        spec = doc.get("spec", {}).get("template", {}).get("spec")
        component = doc["metadata"]["labels"].get("app.kubernetes.io/component")
        if not spec or component not in ("node", "placement", "scheduler"):
            continue
        wapr_pods += 1
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for c in spec["containers"]:
            name = f"{doc['metadata']['name']}/{c['name']}"
            env = {e["name"]: e.get("value") for e in c.get("env", [])}
            present = sorted(k for k in env if k.startswith("WAPR_TLS_"))
            if not secret:
                if present:
                    fail(f"{name} has {present} but tls.secretName is empty")
                continue
            if env.get("WAPR_TLS_SERVER_NAME") != server_name:
                fail(f"{name} checks peers as {env.get('WAPR_TLS_SERVER_NAME')!r}, values say {server_name!r}")
            for var, file in files.items():
                path = env.get(var) or ""
                directory, _, base = path.rpartition("/")
                mount = next((m for m in c.get("volumeMounts", []) if m["mountPath"] == directory), None)
                if base != file or mount is None:
                    fail(f"{name}: {var}={path!r} is not {file} on a mounted volume")
                if not mount.get("readOnly"):
                    fail(f"{name}: the TLS mount {directory} is writable")
                volume = volumes.get(mount["name"], {})
                if volume.get("secret", {}).get("secretName") != secret:
                    fail(f"{name}: {directory} is not the Secret {secret!r}")
    want = 1 + sum(bool((values.get(k) or {}).get("deploy", True)) for k in ("placement", "scheduler"))
    if wapr_pods != want:
        fail(f"{wapr_pods} wapr workloads, want {want}")


if __name__ == "__main__":
    main(*sys.argv[1:])

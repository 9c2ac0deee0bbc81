#!/bin/sh
# The one-shot `train` job of docker-compose.yml (profile "train"):
#   train (the extract is validated against the schema first), calibrate, evaluate,
#   audit, register (alias candidate) -> promote to production through the fairness gate.
# TARVE_TRAIN_DATA names a mounted extract (CSV or Parquet). When it is empty, a
# synthetic register of TARVE_SYNTH_ROWS rows is generated first (no real people).
# The gate decides: if it refuses, the job fails and production keeps its version,
# unless TARVE_PROMOTE_OVERRIDE_REASON is set, which promotes anyway and records the
# reason, who (TARVE_PROMOTE_BY) and when in the registry.
set -eu

data="${TARVE_TRAIN_DATA:-}"
if [ -z "$data" ]; then
  data="${TARVE_HOME:-/var/lib/tarve}/synthetic-register.parquet"
  tarve synth --rows "${TARVE_SYNTH_ROWS:-50000}" --seed "${TARVE_SYNTH_SEED:-1}" --out "$data"
fi
set -- --data "$data" --quiet
if [ -n "${TARVE_TRAIN_CONFIG:-}" ]; then
  set -- "$@" --config "$TARVE_TRAIN_CONFIG"
fi
tarve train "$@"
set -- --version @candidate --by "${TARVE_PROMOTE_BY:-compose-train-job}"
if [ -n "${TARVE_PROMOTE_OVERRIDE_REASON:-}" ]; then
  set -- "$@" --override-reason "$TARVE_PROMOTE_OVERRIDE_REASON"
fi
tarve promote "$@"

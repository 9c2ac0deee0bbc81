#!/usr/bin/env bash
# Creates tarve's two databases, each owned by its own login role:
#   MLFLOW_DB_NAME (MLflow's tracking and registry store), owned by MLFLOW_DB_USER;
#   TARVE_DB_NAME  (the API's keys, audit log and feedback), owned by TARVE_DB_USER.
# The postgres image runs it once, when its data volume is empty (it is mounted into
# /docker-entrypoint-initdb.d). It can also be run by hand against an existing server
# with psql's usual PG* variables (PGHOST, PGUSER ...). Passwords are passed to psql as
# variables and quoted by psql itself (:'name'), so any character is safe in them.
set -euo pipefail

: "${MLFLOW_DB_NAME:=mlflow}"
: "${MLFLOW_DB_USER:=mlflow}"
: "${MLFLOW_DB_PASSWORD:?MLFLOW_DB_PASSWORD is required}"
: "${TARVE_DB_NAME:=tarve}"
: "${TARVE_DB_USER:=tarve}"
: "${TARVE_DB_PASSWORD:?TARVE_DB_PASSWORD is required}"

run_psql() {
  psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet \
    --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" "$@"
}

create() {
  local database=$1 user=$2 password=$3
  run_psql -v db="$database" -v role="$user" -v password="$password" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"role";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
\connect :"db"
ALTER SCHEMA public OWNER TO :"role";
SQL
}

create "$MLFLOW_DB_NAME" "$MLFLOW_DB_USER" "$MLFLOW_DB_PASSWORD"
create "$TARVE_DB_NAME" "$TARVE_DB_USER" "$TARVE_DB_PASSWORD"
echo "created databases $MLFLOW_DB_NAME (owner $MLFLOW_DB_USER) and $TARVE_DB_NAME (owner $TARVE_DB_USER)"

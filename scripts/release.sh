#!/usr/bin/env bash
# Releases every module of the repository at one version (see
# CONTRIBUTING.md, "Releasing"):
#
#   bash scripts/release.sh vX.Y.Z        check, commit "release vX.Y.Z",
#                                         tag every module, build dist/
#   bash scripts/release.sh --snapshot [build flags]
#                                         build dist/ from the work tree,
#                                         tag nothing (CI: -platforms linux/amd64)
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
--snapshot)
  shift
  exec go run ./cmd/internal/release build -snapshot "$@"
  ;;
v[0-9]*)
  go run ./cmd/internal/release tag "$1"
  exec go run ./cmd/internal/release build
  ;;
*)
  echo "usage: bash scripts/release.sh vX.Y.Z | --snapshot [-platforms os/arch,...] [-out dir]" >&2
  exit 2
  ;;
esac

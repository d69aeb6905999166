#!/usr/bin/env bash
# Print the path of a Python 3.12+ interpreter, or explain and fail.
# Order: pyenv's selection (.python-version), python3.13, python3.12, python3.
set -u
for cand in "$(command -v pyenv >/dev/null 2>&1 && pyenv which python 2>/dev/null)" \
            python3.13 python3.12 python3; do
  [ -n "$cand" ] || continue
  path=$(command -v "$cand" 2>/dev/null) || continue
  if "$path" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
    echo "$path"
    exit 0
  fi
done
echo "error: digex needs Python 3.12 or newer and none was found." >&2
echo "Install it (for example 'pyenv install 3.12') and run make again." >&2
exit 1

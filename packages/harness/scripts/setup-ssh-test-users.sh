#!/usr/bin/env bash
# Creates the two system users the process tier's sshd logs in as (needs root; .ci/run calls it):
#   bastion-ssh-pw   password login, with a fresh random password on every run
#   bastion-ssh-key  key login only (each test run authorizes its own fresh key in its own sshd config)
# and writes the names and the password to a root-only JSON file that the test target reads
# (BASTION_SSH_USERS_FILE, default /var/lib/bastion-test/ssh-users.json). The password is never
# printed. Safe to run again.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
  echo "setup-ssh-test-users: must run as root (as another user the process tier uses key login for that user)" >&2
  exit 1
fi
file="${BASTION_SSH_USERS_FILE:-/var/lib/bastion-test/ssh-users.json}"
pw_user=bastion-ssh-pw
key_user=bastion-ssh-key

mkdir -p /run/sshd
for user in "$pw_user" "$key_user"; do
  id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
done
# '*' is no valid hash (no password login) but, unlike '!', does not mark the account locked.
usermod -p '*' "$key_user"
password="$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)"
printf '%s:%s\n' "$pw_user" "$password" | chpasswd

umask 077
mkdir -p "$(dirname "$file")"
printf '{"passwordUser":"%s","password":"%s","keyUser":"%s"}\n' "$pw_user" "$password" "$key_user" >"$file.tmp"
mv "$file.tmp" "$file"
echo "setup-ssh-test-users: $pw_user and $key_user ready; credentials in $file"

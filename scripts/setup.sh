#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian 12 machine. Idempotent:
# when every package and tool is already present it returns in well under a second.
set -euo pipefail

RUST_WEB_VERSION="1.85.0+dfsg3-1~deb12u3"
BINDGEN_VERSION="0.70.1"

# The kernel's Rust needs rustc 1.85 exactly, pinned as a set (apt refuses a partial pin).
PINNED=(
  "rustc-web=$RUST_WEB_VERSION"
  "rust-web-src=$RUST_WEB_VERSION"
  "libstd-rust-web-dev=$RUST_WEB_VERSION"
  "libstd-rust-web-1.85=$RUST_WEB_VERSION"
  "rust-web-clippy=$RUST_WEB_VERSION"
  "rustfmt-web=$RUST_WEB_VERSION"
)
PACKAGES=(
  linux-source-6.12 bc flex bison libelf-dev libssl-dev cpio lld llvm libclang-dev clang
  make xz-utils qemu-system-x86 busybox-static e2fsprogs kmod debootstrap
  criu iproute2 openssh-server openssh-client rsync strace
)

missing=()
for spec in "${PINNED[@]}"; do
  name=${spec%%=*} want=${spec#*=}
  have=$(dpkg-query -W -f='${Status} ${Version}' "$name" 2>/dev/null || true)
  [ "$have" = "install ok installed $want" ] || missing+=("$spec")
done
for name in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$name" 2>/dev/null | grep -q "install ok installed" || missing+=("$name")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Install the pinned set together with the rest so apt resolves them in one go.
  apt-get install -y -qq --no-install-recommends --allow-downgrades "${PINNED[@]}" "${PACKAGES[@]}" >/dev/null
fi

if ! command -v bindgen >/dev/null 2>&1 || [ "$(bindgen --version 2>/dev/null)" != "bindgen $BINDGEN_VERSION" ]; then
  echo "setup: installing bindgen-cli $BINDGEN_VERSION"
  cargo install --quiet bindgen-cli --version "$BINDGEN_VERSION" --locked
fi

/usr/bin/rustc --version | grep -q "^rustc 1.85" || { echo "setup: /usr/bin/rustc is not 1.85" >&2; exit 1; }

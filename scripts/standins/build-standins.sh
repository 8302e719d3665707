#!/usr/bin/env bash
# Builds local stand-ins for the two base images that the top-level Dockerfile uses, and
# tags them with the exact names the Dockerfile names, so that the unmodified Dockerfile
# builds with a plain `docker build -t asg2img .` on a machine that cannot reach a
# container registry (this project's CI). See scripts/standins/README.md for how they
# differ from the real images.
#
#   scripts/standins/build-standins.sh            build whichever stand-in tag is missing
#   FORCE_STANDINS=1 scripts/standins/build-standins.sh   rebuild both
#
# Env: DOCKER (docker|podman, default docker), STANDIN_CACHE (default
# /var/cache/aotkvs-standins: the SDK root filesystem is kept there between runs),
# DEBIAN_MIRROR (default: the first Debian URI in this machine's apt sources),
# DEBIAN_SUITE (default bookworm).
#
# Needs root (debootstrap, and files owned by uid 1654 in the runtime image).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
DOCKER="${DOCKER:-docker}"
CACHE="${STANDIN_CACHE:-/var/cache/aotkvs-standins}"
SUITE="${DEBIAN_SUITE:-bookworm}"
FORCE="${FORCE_STANDINS:-0}"

log() { printf '[standins] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# The tags come from the Dockerfile itself, so the two can never drift apart.
mapfile -t bases < <(awk 'toupper($1)=="FROM" {print $2}' "$repo/Dockerfile" | grep -v -x -e build)
SDK_TAG=""; RUNTIME_TAG=""
for b in "${bases[@]}"; do
    case "$b" in
        */dotnet/sdk:*) SDK_TAG="$b" ;;
        */dotnet/runtime-deps:*) RUNTIME_TAG="$b" ;;
    esac
done
[[ -n "$SDK_TAG" && -n "$RUNTIME_TAG" ]] || die "could not find the sdk and runtime-deps FROM lines in $repo/Dockerfile"

# What the chiseled runtime-deps image is cut from (its chisel slices name the same packages).
RUNTIME_PKGS="libc6 libgcc-s1 libstdc++6 libssl3 ca-certificates"

have_image() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

# Removes a root filesystem folder. debootstrap mounts /proc (and in some setups /dev and
# /sys) inside it while it works; a run cut short leaves them mounted, and a plain rm -rf
# would then reach into the host's. Unmount first, and never cross a file-system boundary.
remove_tree() {
    local dir="$1" m
    [[ -e "$dir" ]] || return 0
    while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done < <(findmnt -R -n -l -o TARGET 2>/dev/null | grep -F "$dir/" | sort -r)
    rm -rf --one-file-system "$dir"
}

case "$(uname -m)" in
    x86_64 | amd64) RID=linux-x64 ;;
    aarch64 | arm64) RID=linux-arm64 ;;
    *) die "unsupported machine $(uname -m)" ;;
esac

need_pkgs=()
command -v debootstrap >/dev/null || need_pkgs+=(debootstrap)
command -v dpkg-deb >/dev/null || need_pkgs+=(dpkg)
if ((${#need_pkgs[@]})); then
    log "installing ${need_pkgs[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

mirror() {
    if [[ -n "${DEBIAN_MIRROR:-}" ]]; then echo "$DEBIAN_MIRROR"; return; fi
    local m
    m="$( { grep -hs -E '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}';
            grep -hs -E '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}'; } \
          | grep -v -e security -e '^$' | grep -E '/debian/?$' | head -n1 || true)"
    [[ -n "$m" ]] || die "no Debian mirror in apt sources; set DEBIAN_MIRROR"
    echo "$m"
}

dotnet_root() {
    local d
    d="$(command -v dotnet)" || die "dotnet (the .NET 10 SDK) is not on PATH"
    dirname "$(readlink -f "$d")"
}

# --- SDK stand-in -------------------------------------------------------------------
# Debian minbase + clang, llvm, zlib1g-dev (what the real -aot image adds to the SDK
# image), this machine's .NET SDK, and the NuGet packages an AOT publish of AotKvs
# restores, pre-seeded so the build stage needs no network.
build_sdk_rootfs() {
    local root="$CACHE/sdk-rootfs"
    if [[ -f "$root/.standin-complete" && "$FORCE" != 1 ]]; then
        log "reusing SDK root filesystem in $root"
    else
        remove_tree "$root"
        mkdir -p "$root"
        log "debootstrap $SUITE (minbase + clang llvm zlib1g-dev ca-certificates) into $root"
        debootstrap --variant=minbase --include=clang,llvm,zlib1g-dev,ca-certificates \
            "$SUITE" "$root" "$(mirror)" >"$CACHE/debootstrap.log" 2>&1 \
            || { remove_tree "$root"; tail -n 30 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }
        # Keep the downloaded runtime packages: the runtime stand-in is cut from them.
        mkdir -p "$CACHE/debs"
        local p
        for p in $RUNTIME_PKGS; do cp "$root"/var/cache/apt/archives/"${p}"_*.deb "$CACHE/debs/"; done
        rm -f "$root"/var/cache/apt/archives/*.deb
        touch "$root/.standin-complete"
    fi

    local src
    src="$(dotnet_root)"
    log "copying the .NET SDK from $src"
    rm -rf "$root/usr/share/dotnet"
    mkdir -p "$root/usr/share"
    cp -a "$src" "$root/usr/share/dotnet"
    ln -sfn /usr/share/dotnet/dotnet "$root/usr/bin/dotnet"

    # The packages a RID-specific restore of the project pulls in (ILCompiler, runtime
    # packs, ILLink), restored here with this machine's NuGet sources straight into the
    # stand-in's global packages folder.
    local pkgs="$root/root/.nuget/packages" tmp
    mkdir -p "$pkgs" "$root/root/.nuget/NuGet"
    tmp="$(mktemp -d)"
    # The same files the Dockerfile's restore layer copies.
    cp "$repo"/{AotKvs.csproj,NativeAot.props,Directory.Build.props,Directory.Packages.props,global.json} "$tmp/"
    log "restoring AotKvs.csproj for $RID into the stand-in's NuGet packages folder"
    (cd "$tmp" && DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 \
        dotnet restore AotKvs.csproj -r "$RID" --packages "$pkgs" -v quiet -nologo) \
        || { rm -rf "$tmp"; die "dotnet restore failed"; }
    rm -rf "$tmp"
    # No package sources inside the stand-in: the build is offline, and a restore that
    # needs anything not pre-seeded fails at once instead of timing out.
    cat >"$root/root/.nuget/NuGet/NuGet.Config" <<'EOF'
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
  </packageSources>
</configuration>
EOF
}

import_sdk() {
    local root="$CACHE/sdk-rootfs"
    log "importing $SDK_TAG"
    tar --numeric-owner --one-file-system -C "$root" --exclude=./.standin-complete --exclude='./proc/*' --exclude='./sys/*' -c . | "$DOCKER" import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV APP_UID=1654' \
        --change 'ENV ASPNETCORE_HTTP_PORTS=8080' \
        --change 'ENV DOTNET_RUNNING_IN_CONTAINER=true' \
        --change 'ENV DOTNET_GENERATE_ASPNET_CERTIFICATE=false' \
        --change 'ENV DOTNET_NOLOGO=true' \
        --change 'ENV DOTNET_CLI_TELEMETRY_OPTOUT=true' \
        --change 'ENV DOTNET_USE_POLLING_FILE_WATCHER=true' \
        --change 'ENV NUGET_XMLDOC_MODE=skip' \
        --change 'CMD ["/bin/bash"]' \
        - "$SDK_TAG" >/dev/null
}

# --- runtime-deps stand-in ----------------------------------------------------------
# What runtime-deps:10.0-noble-chiseled is made of (chisel slices base-files,
# ca-certificates_data, libc6_libs, libgcc-s1_libs, libssl3t64_libs, libstdc++6_libs, an
# `app` user 1654 with /home/app), taken from the same Debian packages: libraries only, no
# shell, no package manager, no coreutils.
build_runtime_rootfs() {
    local root="$CACHE/runtime-rootfs" deb p
    if ! ls "$CACHE"/debs/libc6_*.deb >/dev/null 2>&1; then
        # The SDK root filesystem was built by an older run that did not keep its .debs.
        mkdir -p "$CACHE/debs"
        # shellcheck disable=SC2086
        (cd "$CACHE/debs" && apt-get download $RUNTIME_PKGS) >/dev/null
    fi
    remove_tree "$root"
    mkdir -p "$root"
    for p in $RUNTIME_PKGS; do
        deb="$(ls "$CACHE"/debs/"${p}"_*.deb | sort -V | tail -n1)"
        [[ -f "$deb" ]] || die "no $p .deb in $CACHE/debs"
        dpkg-deb -x "$deb" "$root"
    done
    # Certificates: the bundle that update-ca-certificates would write, and nothing else.
    mkdir -p "$root/etc/ssl/certs"
    find "$root/usr/share/ca-certificates" -name '*.crt' -print0 | sort -z | xargs -0 cat >"$root/etc/ssl/certs/ca-certificates.crt"
    # Libraries only: drop every program, script and document the packages carry
    # (libc6's ldd is a bash script, ca-certificates ships update-ca-certificates).
    rm -rf "$root"/usr/bin "$root"/usr/sbin "$root"/bin "$root"/sbin "$root"/usr/share/doc "$root"/usr/share/man \
        "$root"/usr/share/lintian "$root"/usr/share/locale "$root"/usr/share/ca-certificates "$root"/usr/share/gcc \
        "$root"/usr/share/gdb "$root"/usr/libexec "$root"/etc/ca-certificates* \
        "$root"/usr/lib/ssl/misc "$root"/usr/lib/*-linux-gnu/gconv "$root"/usr/lib/*-linux-gnu/audit
    find "$root" -name '*.py' -delete
    # Users and directories as the chiseled image has them.
    printf 'root:x:0:0:root:/root:/bin/bash\napp:x:1654:1654::/home/app:/bin/false\n' >"$root/etc/passwd"
    printf 'root:x:0:\napp:x:1654:\n' >"$root/etc/group"
    install -d -m 0755 -o 1654 -g 1654 "$root/home/app"
    install -d -m 1777 "$root/tmp"
    install -d -m 0700 "$root/root"
    # Nothing that can start a shell may be left.
    if find "$root" \( -name sh -o -name bash -o -name dash -o -name busybox \) | grep -q .; then
        die "a shell slipped into the runtime stand-in"
    fi
}

import_runtime() {
    local root="$CACHE/runtime-rootfs"
    log "importing $RUNTIME_TAG"
    tar --numeric-owner -C "$root" -c . | "$DOCKER" import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV APP_UID=1654' \
        --change 'ENV ASPNETCORE_HTTP_PORTS=8080' \
        --change 'ENV DOTNET_RUNNING_IN_CONTAINER=true' \
        --change 'ENV DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=true' \
        --change 'USER 1654' \
        - "$RUNTIME_TAG" >/dev/null
}

mkdir -p "$CACHE"
if have_image "$SDK_TAG" && [[ "$FORCE" != 1 ]]; then
    log "$SDK_TAG already present"
else
    build_sdk_rootfs
    import_sdk
fi
if have_image "$RUNTIME_TAG" && [[ "$FORCE" != 1 ]]; then
    log "$RUNTIME_TAG already present"
else
    build_runtime_rootfs
    import_runtime
fi
log "stand-ins ready: $SDK_TAG, $RUNTIME_TAG"

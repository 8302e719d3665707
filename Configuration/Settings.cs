namespace AotKvs.Configuration;

/// <summary>
/// Every setting of the service, in the order --help and the docs list them. Each is an
/// environment variable and a flag (the flag wins); <see cref="ServiceOptions.Load"/> reads them.
/// </summary>
internal static class Settings
{
    public static readonly NumberSetting Port = new(
        "--port", "KVS_PORT", "port", ListenAddress.DefaultPort, 1, 65535,
        "listen on all interfaces at this port; without it, --urls / ASPNETCORE_URLS / ASPNETCORE_HTTP_PORTS apply, then 8090");

    public static readonly TextSetting ForwardingAddress = new(
        "--forwarding-address", "FORWARDING_ADDRESS", "host:port", "(empty: main)",
        "IPv4, [IPv6] or name; no port means 8090",
        "where main is; set means the forwarding role");

    public static readonly NumberSetting ForwardTimeoutMs = new(
        "--forward-timeout-ms", "KVS_FORWARD_TIMEOUT_MS", "milliseconds", 1000, 1, 600_000,
        "bound on connecting to main and getting its whole answer; past it, 503");

    public static readonly NumberSetting UpstreamConnections = new(
        "--upstream-connections", "KVS_UPSTREAM_CONNECTIONS", "connections", 256, 1, 100_000,
        "connections a forwarder opens to main at most; more requests wait for one within the forward bound");

    public static readonly NumberSetting UpstreamPipeline = new(
        "--upstream-pipeline", "KVS_UPSTREAM_PIPELINE", "requests", 64, 1, 1024,
        "requests a forwarder sends to main in one write at most when they arrive together (HTTP/1.1 pipelining); 1: one request per connection at a time");

    public static readonly NumberSetting ReadyProbeMs = new(
        "--ready-probe-ms", "KVS_READY_PROBE_MS", "milliseconds", 1000, 10, 3_600_000,
        "how often a forwarder probes main's /readyz");

    public static readonly TextSetting Store = new(
        "--store", "KVS_STORE", "etcd://host:port[,host:port…]", "(empty: memory)",
        "etcd:// (plain) or etcd+https:// (TLS), then one or more comma-separated host:port of one etcd cluster",
        "where main keeps its data: empty, its own memory; an etcd cluster, making main a stateless front over it");

    public static readonly TextSetting StorePrefix = new(
        "--store-prefix", "KVS_STORE_PREFIX", "text", "/kvs/", "any non-empty text",
        "with --store: every key is stored in etcd under this prefix");

    public static readonly NumberSetting StoreTimeoutMs = new(
        "--store-timeout-ms", "KVS_STORE_TIMEOUT_MS", "milliseconds", 1000, 1, 600_000,
        "with --store: bound on one request to the cluster, waiting for a connection and failover included; past it, 503");

    public static readonly NumberSetting StoreConnections = new(
        "--store-connections", "KVS_STORE_CONNECTIONS", "connections", 64, 1, 100_000,
        "with --store: calls in flight to the cluster at most (multiplexed on one HTTP/2 connection); more wait within the store bound");

    public static readonly TextSetting StoreCaFile = new(
        "--store-ca-file", "KVS_STORE_CA_FILE", "path", "(empty: system roots)", "a PEM file",
        "with etcd+https://: the CA certificates that the cluster's server certificates must chain to");

    public static readonly TextSetting StoreCertFile = new(
        "--store-cert-file", "KVS_STORE_CERT_FILE", "path", "(empty: none)", "a PEM file; needs --store-key-file",
        "with etcd+https://: the client certificate main presents to the cluster");

    public static readonly TextSetting StoreKeyFile = new(
        "--store-key-file", "KVS_STORE_KEY_FILE", "path", "(empty: none)", "a PEM file; needs --store-cert-file",
        "with etcd+https://: the private key of the client certificate");

    public static readonly TextSetting StoreUser = new(
        "--store-user", "KVS_STORE_USER", "text", "(empty: no authentication)", "an etcd user; needs KVS_STORE_PASSWORD_FILE",
        "with --store: the etcd user main authenticates as");

    public static readonly TextSetting StorePasswordFile = new(
        "--store-password-file", "KVS_STORE_PASSWORD_FILE", "path", "(empty: none)", "a file whose first line is the password",
        "with --store-user: the file the password is read from, so that it never appears on a command line");

    public static readonly NumberSetting MaxBodyBytes = new(
        "--max-body-bytes", "KVS_MAX_BODY_BYTES", "bytes", 16 * 1024 * 1024, 1, int.MaxValue,
        "largest request body; larger gets 413");

    public static readonly NumberSetting MaxBufferedBytes = new(
        "--max-buffered-bytes", "KVS_MAX_BUFFERED_BYTES", "bytes", 256 * 1024 * 1024, 64 * 1024, int.MaxValue,
        "bytes all connections together may hold in request bodies being read and answers being relayed; past it, 503 and the connection closed");

    public static readonly NumberSetting MaxJsonDepth = new(
        "--max-json-depth", "KVS_MAX_JSON_DEPTH", "levels", 512, 1, 100_000,
        "deepest JSON nesting a PUT body may have (the body's object is level 1)");

    public static readonly NumberSetting MaxConnections = new(
        "--max-connections", "KVS_MAX_CONNECTIONS", "connections", 10_000, 1, 1_000_000,
        "open connections at most; more are closed at once");

    public static readonly NumberSetting MaxWaitSeconds = new(
        "--max-wait-seconds", "KVS_MAX_WAIT_SECONDS", "seconds", 300, 1, 86_400,
        "longest wait a GET with Prefer: wait=N is granted; longer asks get this");

    public static readonly NumberSetting MaxWaiters = new(
        "--max-waiters", "KVS_MAX_WAITERS", "requests", 8192, 0, 1_000_000,
        "requests waiting for a change at once at most; more are answered at once, without waiting; 0: never wait");

    public static readonly ChoiceSetting<LogFormat> LogFormat = new(
        "--log-format", "KVS_LOG_FORMAT", Configuration.LogFormat.Text,
        [("text", Configuration.LogFormat.Text), ("json", Configuration.LogFormat.Json)],
        "one line of text, or one JSON object, per log entry");

    public static readonly ChoiceSetting<LogLevel> LogLevel = new(
        "--log-level", "KVS_LOG_LEVEL", Microsoft.Extensions.Logging.LogLevel.Information,
        [
            ("trace", Microsoft.Extensions.Logging.LogLevel.Trace),
            ("debug", Microsoft.Extensions.Logging.LogLevel.Debug),
            ("information", Microsoft.Extensions.Logging.LogLevel.Information),
            ("info", Microsoft.Extensions.Logging.LogLevel.Information),
            ("warning", Microsoft.Extensions.Logging.LogLevel.Warning),
            ("warn", Microsoft.Extensions.Logging.LogLevel.Warning),
            ("error", Microsoft.Extensions.Logging.LogLevel.Error),
            ("critical", Microsoft.Extensions.Logging.LogLevel.Critical),
            ("none", Microsoft.Extensions.Logging.LogLevel.None),
        ],
        "least severe log entry written");

    public static readonly TextSetting Instance = new(
        "--instance", "KVS_INSTANCE", "text", "(host name)", "any",
        "instance name written in every log line and in /metrics");

    public static readonly SwitchSetting AccessLog = new(
        "--access-log", "KVS_ACCESS_LOG",
        "one log line per request; off, the access log is not in the pipeline at all");

    public static readonly TextSetting DataDir = new(
        "--data-dir", "KVS_DATA_DIR", "directory", "(empty: memory only)", "a directory main may create, write and lock",
        "main logs every change there before answering and rebuilds its data from it at start-up; a forwarder refuses it");

    public static readonly ChoiceSetting<SyncMode> Sync = new(
        "--sync", "KVS_SYNC", SyncMode.Always,
        [("always", SyncMode.Always), ("periodic", SyncMode.Periodic)],
        "with a data dir: always = on disk (fsync) before the answer; periodic = written before the answer, on disk within --sync-interval-ms");

    public static readonly NumberSetting SyncIntervalMs = new(
        "--sync-interval-ms", "KVS_SYNC_INTERVAL_MS", "milliseconds", 1000, 1, 60_000,
        "with --sync periodic: longest time a written change waits for its fsync");

    public static readonly NumberSetting CompactMinBytes = new(
        "--compact-min-bytes", "KVS_COMPACT_MIN_BYTES", "bytes", 64 * 1024 * 1024, 4096, int.MaxValue,
        "with a data dir: the log is compacted once it is this long and longer than the last snapshot");

    public static readonly Setting[] All =
        [Port, ForwardingAddress, ForwardTimeoutMs, UpstreamConnections, UpstreamPipeline, ReadyProbeMs,
         Store, StorePrefix, StoreTimeoutMs, StoreConnections, StoreCaFile, StoreCertFile, StoreKeyFile, StoreUser, StorePasswordFile,
         MaxBodyBytes, MaxBufferedBytes, MaxJsonDepth, MaxConnections, MaxWaitSeconds, MaxWaiters, LogFormat, LogLevel, Instance, AccessLog,
         DataDir, Sync, SyncIntervalMs, CompactMinBytes];
}

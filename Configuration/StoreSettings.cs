namespace AotKvs.Configuration;

/// <summary>
/// KVS_STORE and the settings that go with it: an etcd cluster that a main keeps its data in.
/// Files named here must be readable at start-up, so a typo stops start-up with one message
/// instead of failing every request later.
/// </summary>
internal sealed record StoreSettings(
    IReadOnlyList<Uri> Endpoints,
    string Prefix,
    TimeSpan Timeout,
    int Connections,
    string? CaFile,
    string? CertFile,
    string? KeyFile,
    string? User,
    string? Password)
{
    private const string Plain = "etcd://";
    private const string Tls = "etcd+https://";

    public bool UsesTls => Endpoints[0].Scheme == Uri.UriSchemeHttps;

    /// <summary>The endpoints as given, for logs and /readyz.</summary>
    public string Display => "etcd " + string.Join(',', Endpoints.Select(e => e.Authority));

    /// <summary>Null when KVS_STORE is unset: main keeps its data in memory.</summary>
    public static StoreSettings? Load(IConfiguration config)
    {
        if (Settings.Store.Read(config) is not { } text)
            return null;

        var settings = new StoreSettings(
            ParseEndpoints(text),
            Settings.StorePrefix.Read(config) ?? Settings.StorePrefix.Default,
            TimeSpan.FromMilliseconds(Settings.StoreTimeoutMs.Read(config)),
            Settings.StoreConnections.Read(config),
            ReadableFile(config, Settings.StoreCaFile),
            ReadableFile(config, Settings.StoreCertFile),
            ReadableFile(config, Settings.StoreKeyFile),
            Settings.StoreUser.Read(config),
            ReadPassword(config));

        if ((settings.CertFile is null) != (settings.KeyFile is null))
            throw new InvalidSettingException("KVS_STORE_CERT_FILE and KVS_STORE_KEY_FILE must be given together");
        if (!settings.UsesTls && (settings.CaFile ?? settings.CertFile) is not null)
            throw new InvalidSettingException("KVS_STORE_CA_FILE and KVS_STORE_CERT_FILE need an etcd+https:// store");
        if ((settings.User is null) != (settings.Password is null))
            throw new InvalidSettingException("KVS_STORE_USER and KVS_STORE_PASSWORD_FILE must be given together");
        return settings;
    }

    /// <summary>"etcd://h1:2379,h2:2379" or "etcd+https://h1:2379,…": every endpoint needs its port.</summary>
    internal static List<Uri> ParseEndpoints(string text)
    {
        var scheme = text.StartsWith(Plain, StringComparison.OrdinalIgnoreCase) ? "http"
            : text.StartsWith(Tls, StringComparison.OrdinalIgnoreCase) ? "https"
            : throw Bad(text, "must start with etcd:// or etcd+https://");
        var list = text[(scheme == "http" ? Plain.Length : Tls.Length)..];
        var endpoints = new List<Uri>();
        foreach (var part in list.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate($"{scheme}://{part}", UriKind.Absolute, out var uri) || part.Length == 0
                || uri.PathAndQuery != "/" || uri.UserInfo.Length > 0 || uri.Fragment.Length > 0
                || uri.Host.Length == 0 || uri.IsDefaultPort || part.EndsWith('/'))
                throw Bad(text, $"has '{part}' where host:port belongs");
            endpoints.Add(uri);
        }
        return endpoints;
    }

    private static InvalidSettingException Bad(string text, string problem) =>
        new($"KVS_STORE '{text}' {problem} (etcd://host:port[,host:port...])");

    private static string? ReadableFile(IConfiguration config, TextSetting setting)
    {
        if (setting.Read(config) is not { } path)
            return null;
        try
        {
            using var _ = File.OpenRead(path);
            return path;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidSettingException($"{setting.Variable} '{path}' cannot be read: {e.Message}");
        }
    }

    private static string? ReadPassword(IConfiguration config)
    {
        if (ReadableFile(config, Settings.StorePasswordFile) is not { } path)
            return null;
        using var reader = new StreamReader(path);
        return reader.ReadLine() ?? "";
    }
}

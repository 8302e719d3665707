using Xunit;

namespace AotKvs.Tests.Support;

/// <summary>
/// The instances the SPEC tests run through: main, a forwarder in front of it and a chain
/// of two forwarders, started from the published binary. With KVS_MAIN_URL (and
/// optionally KVS_FORWARDER_URLS, comma-separated) the same tests run against servers that
/// are already running instead: containers, or another implementation of the contract.
/// </summary>
public sealed class Cluster : IDisposable
{
    private readonly List<ServerProcess> _processes = [];

    public Cluster()
    {
        if (External is { } external)
        {
            Targets = external;
            return;
        }

        var main = Track(ServerProcess.StartMain());
        var forwarder = Track(ServerProcess.StartForwarder(main.Address));
        var chain = Track(ServerProcess.StartForwarder(forwarder.Address));
        Targets = new Dictionary<string, Uri>
        {
            ["main"] = main.BaseUri,
            ["forwarder"] = forwarder.BaseUri,
            ["chain"] = chain.BaseUri,
        };
    }

    public IReadOnlyDictionary<string, Uri> Targets { get; }

    public Uri this[string name] => Targets[name];

    /// <summary>Every instance a SPEC row is checked through.</summary>
    public static IReadOnlyList<string> TargetNames =>
        External is { } external ? [.. external.Keys] : ["main", "forwarder", "chain"];

    /// <summary>Target names for [MemberData].</summary>
    public static TheoryData<string> Names => new(TargetNames);

    private static Dictionary<string, Uri>? External
    {
        get
        {
            var main = Environment.GetEnvironmentVariable("KVS_MAIN_URL");
            if (string.IsNullOrWhiteSpace(main))
                return null;
            var targets = new Dictionary<string, Uri> { ["main"] = new(main) };
            var forwarders = Environment.GetEnvironmentVariable("KVS_FORWARDER_URLS") ?? "";
            var i = 0;
            foreach (var url in forwarders.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                targets[$"forwarder{++i}"] = new Uri(url);
            return targets;
        }
    }

    private ServerProcess Track(ServerProcess process)
    {
        _processes.Add(process);
        return process;
    }

    public void Dispose()
    {
        foreach (var process in _processes)
            process.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<Cluster>
{
    public const string Name = "cluster";
}

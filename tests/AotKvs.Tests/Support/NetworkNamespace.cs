using System.Diagnostics;
using Xunit;

namespace AotKvs.Tests.Support;

/// <summary>
/// A network namespace joined to the host by a veth pair, for cutting main off the network
/// for real: <see cref="Cut"/> drops every packet in and out of the namespace (nftables),
/// so peers see silence, not resets, like a stopped container's address. Needs root and
/// iproute2/nftables; traffic stays between the host and this namespace.
/// </summary>
public sealed class NetworkNamespace : IDisposable
{
    private readonly string _hostLink;

    public NetworkNamespace()
    {
        var id = $"{Environment.ProcessId % 10000}{Random.Shared.Next(100, 999)}";
        Name = $"kvs-{id}";
        _hostLink = $"kvh{id}";
        var insideLink = $"kvn{id}";
        var subnet = $"10.231.{Random.Shared.Next(0, 250)}";
        HostAddress = $"{subnet}.1";
        InsideAddress = $"{subnet}.2";
        Ip($"netns add {Name}");
        Ip($"link add {_hostLink} type veth peer name {insideLink}");
        Ip($"link set {insideLink} netns {Name}");
        Ip($"addr add {HostAddress}/30 dev {_hostLink}");
        Ip($"link set {_hostLink} up");
        Ip($"netns exec {Name} ip addr add {InsideAddress}/30 dev {insideLink}");
        Ip($"netns exec {Name} ip link set {insideLink} up");
        Ip($"netns exec {Name} ip link set lo up");
    }

    public string Name { get; }
    public string HostAddress { get; }
    public string InsideAddress { get; }

    /// <summary>Root, ip and nft present: otherwise the tests that need a namespace are skipped.</summary>
    public static bool IsAvailable =>
        Environment.UserName == "root" && File.Exists("/usr/sbin/ip") && File.Exists("/usr/sbin/nft")
        && Run("ip", "netns list") == 0;

    public void Cut()
    {
        Ip($"netns exec {Name} nft add table inet cut");
        Ip($"netns exec {Name} nft add chain inet cut in {{ type filter hook input priority 0 ; policy drop ; }}");
        Ip($"netns exec {Name} nft add chain inet cut out {{ type filter hook output priority 0 ; policy drop ; }}");
    }

    public void Heal() => Ip($"netns exec {Name} nft delete table inet cut");

    public void Dispose()
    {
        Run("ip", $"link del {_hostLink}");
        Run("ip", $"netns del {Name}");
    }

    private static void Ip(string arguments)
    {
        var code = Run("ip", arguments);
        if (code != 0)
            throw new InvalidOperationException($"ip {arguments} failed with {code}");
    }

    private static int Run(string file, string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        process.WaitForExit(10_000);
        return process.ExitCode;
    }
}

/// <summary>A test that needs a real network namespace: skipped where it cannot have one.</summary>
public sealed class NetworkFactAttribute : FactAttribute
{
    public NetworkFactAttribute()
    {
        if (!NetworkNamespace.IsAvailable)
            Skip = "needs root, iproute2 and nftables";
    }
}

/// <summary>A test that runs only in the long form (scripts/faults.sh --long).</summary>
public sealed class LongFormFactAttribute : FactAttribute
{
    public LongFormFactAttribute()
    {
        if (!FaultProfile.IsLong)
            Skip = "long form only: scripts/faults.sh --long";
    }

    /// <summary>Also needs a network namespace.</summary>
    public bool NeedsNetwork
    {
        get => field;
        set
        {
            field = value;
            if (value && Skip is null && !NetworkNamespace.IsAvailable)
                Skip = "needs root, iproute2 and nftables";
        }
    }
}

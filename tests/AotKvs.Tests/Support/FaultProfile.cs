namespace AotKvs.Tests.Support;

/// <summary>
/// Quick (CI, the default) or long (KVS_FAULTS=long, from scripts/faults.sh --long) forms of
/// the fault, soak and linearizability runs; and where their reports are written.
/// </summary>
public static class FaultProfile
{
    public static bool IsLong => string.Equals(Environment.GetEnvironmentVariable("KVS_FAULTS"), "long", StringComparison.OrdinalIgnoreCase);

    public static TimeSpan Pick(TimeSpan quick, TimeSpan thorough) => IsLong ? thorough : quick;

    /// <summary>
    /// How long a long-form workload runs: the long length, or KVS_FAULTS_SECONDS when set
    /// (600 for the 10-minute linearizability run).
    /// </summary>
    public static TimeSpan Length(TimeSpan quick, TimeSpan thorough) =>
        !IsLong ? quick
        : int.TryParse(Environment.GetEnvironmentVariable("KVS_FAULTS_SECONDS"), out var seconds) && seconds > 0 ? TimeSpan.FromSeconds(seconds)
        : thorough;

    public static int Pick(int quick, int thorough) => IsLong ? thorough : quick;

    /// <summary>Writes a report to artifacts/faults/&lt;name&gt;.txt and returns its text.</summary>
    public static string Report(string name, string text)
    {
        var dir = Path.Combine(ServerProcess.RepoRoot, "artifacts", "faults");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, name + ".txt"), text);
        return text;
    }
}

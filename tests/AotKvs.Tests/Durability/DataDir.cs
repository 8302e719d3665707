using AotKvs.Tests.Support;

namespace AotKvs.Tests.Durability;

/// <summary>A fresh data dir under /tmp for one test, removed afterwards; starts mains on it.</summary>
public sealed class DataDir : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "kvs-data-" + Guid.NewGuid().ToString("N"));

    public ServerProcess StartMain(params (string Name, string Value)[] env) =>
        ServerProcess.StartMain(null, [("KVS_DATA_DIR", Path), .. env]);

    /// <summary>The newest log file (the one being appended to).</summary>
    public string NewestLog => Directory.GetFiles(Path, "log.*").Order(StringComparer.Ordinal).Last();

    public void Dispose()
    {
        if (Directory.Exists(Path))
            Directory.Delete(Path, recursive: true);
    }
}

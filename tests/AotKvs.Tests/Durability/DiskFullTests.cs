using System.Diagnostics;
using AotKvs.Tests.Support;
using Xunit;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.Durability;

/// <summary>A test that needs root to mount a small tmpfs: skipped elsewhere.</summary>
public sealed class MountFactAttribute : FactAttribute
{
    public MountFactAttribute()
    {
        if (Environment.UserName != "root" || !File.Exists("/usr/bin/mount"))
            Skip = "needs root to mount a tmpfs";
    }
}

/// <summary>
/// The disk fills up under main: the change that did not fit and every request after it get
/// 503 "Store is unavailable" (memory may hold a change the disk never took), and main says why.
/// </summary>
[Trait("Category", "Durability")]
public sealed class DiskFullTests
{
    private static int Run(string file, params string[] args)
    {
        using var process = Process.Start(file, args);
        process.WaitForExit(10_000);
        return process.ExitCode;
    }

    [MountFact]
    public async Task A_full_disk_turns_writes_and_reads_into_503_store_is_unavailable()
    {
        var mountPoint = Path.Combine(Path.GetTempPath(), "kvs-full-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(mountPoint);
        Assert.Equal(0, Run("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mountPoint));
        try
        {
            using var main = ServerProcess.StartMain(null, ("KVS_DATA_DIR", mountPoint));
            var big = $"\"{new string('x', 64 * 1024)}\"";
            KvsAnswer answer = null!;
            for (var i = 0; i < 10; i++)
            {
                answer = await PutValueAsync(main.BaseUri, $"/kvs/k{i}", big);
                if (answer.Status != 201)
                    break;
            }
            answer.ShouldBe(503, """{"error": "Store is unavailable"}""");
            (await GetAsync(main.BaseUri, "/kvs/k0")).ShouldBe(503, """{"error": "Store is unavailable"}""");
            (await PutValueAsync(main.BaseUri, "/kvs/small", "1")).ShouldBe(503, """{"error": "Store is unavailable"}""");
            Assert.True(Poll.Until(() => main.Output.Contains("cannot be written"), TimeSpan.FromSeconds(5)), main.Output);
        }
        finally
        {
            Run("umount", "-l", mountPoint);
            Directory.Delete(mountPoint);
        }
    }
}

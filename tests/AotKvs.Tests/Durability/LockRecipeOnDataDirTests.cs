using AotKvs.Tests.BlackBox;
using AotKvs.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace AotKvs.Tests.Durability;

/// <summary>The lock recipe (<see cref="LockContest"/>) on a main with a data dir, through it and a forwarder in front of it.</summary>
[Trait("Category", "Durability")]
public sealed class LockRecipeOnDataDirTests(ITestOutputHelper output)
{
    [Fact]
    public async Task One_holder_at_a_time_with_a_data_dir()
    {
        using var dir = new DataDir();
        using var main = dir.StartMain();
        using var forwarder = ServerProcess.StartForwarder(main.Address);

        var run = await LockContest.RunAsync([main.BaseUri, forwarder.BaseUri], createOnly: true, acquisitionsEach: 3, vanishings: 2);

        LockRecipeTests.AssertOneHolderAtATime(run, vanishings: 2, output);
    }
}

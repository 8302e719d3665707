using Xunit;

namespace AotKvs.Tests.Fuzz;

/// <summary>
/// Negative controls for the harness itself: each of its bounds reports a reader that breaks
/// it (one that never returns, one that is slow, one that trusts a length field, one that
/// throws the wrong exception), and a failure replays from its seed and execution number.
/// </summary>
[Collection(FuzzCollection.Name), Trait("Category", "Unit")]
public sealed class FuzzHarnessTests
{
    private static FuzzTarget Target(string name, FuzzOracle oracle) =>
        new(name, [[1, 2, 3], "key: value\r\n"u8.ToArray()], random => random.Bytes(random.Next(12)), oracle)
        {
            TimeBound = TimeSpan.FromMilliseconds(200), // the mechanism of the 1 s bound, sooner
        };

    private static readonly FuzzBudget Budget = new(TimeSpan.FromSeconds(20), 50_000, Seed: 7);

    [Fact]
    public void An_input_that_never_returns_is_reported_as_a_hang_with_its_input()
    {
        var result = Fuzzer.Run(Target("loops on 0xFF", (input, context) =>
        {
            using var _ = context.Measure();
            while (input.AsSpan().Contains((byte)0xFF) && !context.Abandoned.IsCancellationRequested)
                Thread.SpinWait(100); // never returns, until the harness has given up on it
        }), Budget);

        Assert.Equal(FuzzFailureKind.Hang, result.Failure?.Kind);
        Assert.Contains((byte)0xFF, result.Failure!.Input);
        Assert.True(result.Elapsed < TimeSpan.FromSeconds(10), $"reported after {result.Elapsed}");
    }

    [Fact]
    public void An_input_past_the_time_bound_is_reported_as_slow()
    {
        var result = Fuzzer.Run(Target("slow on 0xFE", (input, context) =>
        {
            if (input.AsSpan().Contains((byte)0xFE))
                Thread.Sleep(300);
        }), Budget);

        Assert.Equal(FuzzFailureKind.Slow, result.Failure?.Kind);
        Assert.Contains((byte)0xFE, result.Failure!.Input);
    }

    [Fact]
    public void A_reader_that_allocates_what_a_length_field_says_is_reported()
    {
        var result = Fuzzer.Run(Target("trusts a length", (input, context) =>
        {
            using var _ = context.Measure();
            if (input.Length >= 4 && BitConverter.ToInt32(input) is var length and > 0)
                GC.KeepAlive(new byte[Math.Min(length, 32 << 20)]); // capped, to keep the control light
        }), Budget);

        Assert.Equal(FuzzFailureKind.Allocation, result.Failure?.Kind);
        Assert.True(BitConverter.ToInt32(result.Failure!.Input) > 1 << 20);
        Assert.Equal(4, (result.Failure.Shrunk ?? result.Failure.Input).Length); // shrunk to the length field alone
    }

    [Fact]
    public void A_reader_that_throws_the_wrong_exception_is_reported_and_shrunk()
    {
        var result = Fuzzer.Run(Target("throws on a colon", (input, context) =>
        {
            using var _ = context.Measure();
            try
            {
                var colon = Array.IndexOf(input, (byte)':');
                if (colon >= 0)
                    GC.KeepAlive(input[colon + input.Length]); // past the end
                if (input.Length > 10)
                    throw new FormatException("the one exception this reader may throw");
            }
            catch (FormatException)
            {
            }
        }), Budget);

        Assert.Equal(FuzzFailureKind.Exception, result.Failure?.Kind);
        Assert.StartsWith(nameof(IndexOutOfRangeException), result.Failure!.Detail, StringComparison.Ordinal);
        Assert.Equal(":"u8.ToArray(), result.Failure.Shrunk);
        Assert.Throws<Xunit.Sdk.FailException>(() => result.AssertClean(nameof(FuzzHarnessTests)));
    }

    [Fact]
    public void A_failure_replays_from_its_seed_and_execution_alone()
    {
        var target = Target("fails on 0x80", (input, context) =>
            Assert.DoesNotContain((byte)0x80, input));
        var first = Fuzzer.Run(target, Budget).Failure;
        Assert.NotNull(first);

        var replay = Fuzzer.Run(target, Budget with { Only = first.Execution });
        Assert.Equal(1, replay.Executions);
        Assert.Equal(first.Input, replay.Failure?.Input);
        Assert.Equal(first.Execution, replay.Failure?.Execution);
    }

    [Fact]
    public void Inputs_depend_on_the_seed_and_stay_within_the_size_bound()
    {
        var target = Target("sizes", (_, _) => { }) with { MaxInputBytes = 64 };
        var seven = Enumerable.Range(0, 500).Select(n => Fuzzer.Input(target, 7, n, out _)).ToList();
        Assert.Equal(seven, Enumerable.Range(0, 500).Select(n => Fuzzer.Input(target, 7, n, out _)));
        Assert.NotEqual(seven, Enumerable.Range(0, 500).Select(n => Fuzzer.Input(target, 8, n, out _)));
        Assert.All(seven.Skip(target.Corpus.Count), input => Assert.True(input.Length <= 64));
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Text;
using Xunit;

namespace AotKvs.Tests.Fuzz;

/// <summary>
/// Checks one input: calls the reader(s) inside <see cref="FuzzContext.Measure"/>, catches the
/// one exception the reader's contract allows, and asserts what must hold of the outcome.
/// Anything that escapes (an assertion, or any other exception from the reader) is a failure.
/// </summary>
internal delegate void FuzzOracle(byte[] input, FuzzContext context);

/// <summary>What is fuzzed: the inputs it starts from, how new ones are made, and what must hold.</summary>
internal sealed record FuzzTarget(string Name, IReadOnlyList<byte[]> Corpus, Func<Random, byte[]> Generate, FuzzOracle Oracle)
{
    /// <summary>Tokens the mutator inserts or overwrites with ("Content-Length:", "%", a varint).</summary>
    public IReadOnlyList<byte[]> Dictionary { get; init; } = [];

    /// <summary>The cap on executions in the quick (CI) form; the time budget applies too, whichever comes first.</summary>
    public long QuickExecutions { get; init; } = 200_000;

    /// <summary>Mutations never grow an input past this.</summary>
    public int MaxInputBytes { get; init; } = 128 * 1024;

    /// <summary>The most one input may allocate inside <see cref="FuzzContext.Measure"/>, by input length.</summary>
    public Func<int, long> AllocationBound { get; init; } = length => 64L * length + (1 << 20);

    /// <summary>The most one input may take. Cheap inputs take microseconds.</summary>
    public TimeSpan TimeBound { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>How long, how many and from which seed.</summary>
internal sealed record FuzzBudget(TimeSpan Duration, long Executions, int Seed, long? Only = null)
{
    /// <summary>
    /// From the environment: KVS_FUZZ_SECONDS (unset: the quick form, 2 s or the target's
    /// execution cap, whichever first), KVS_FUZZ_SEED (unset: 1), KVS_FUZZ_REPLAY (run only
    /// that execution of the seed's sequence, as a failure names it).
    /// </summary>
    public static FuzzBudget For(FuzzTarget target)
    {
        var seconds = Environment.GetEnvironmentVariable("KVS_FUZZ_SECONDS");
        var seed = Environment.GetEnvironmentVariable("KVS_FUZZ_SEED");
        var only = Environment.GetEnvironmentVariable("KVS_FUZZ_REPLAY");
        return new FuzzBudget(
            TimeSpan.FromSeconds(string.IsNullOrEmpty(seconds) ? 2 : double.Parse(seconds, CultureInfo.InvariantCulture)),
            string.IsNullOrEmpty(seconds) ? target.QuickExecutions : long.MaxValue,
            string.IsNullOrEmpty(seed) ? 1 : int.Parse(seed, CultureInfo.InvariantCulture),
            string.IsNullOrEmpty(only) ? null : long.Parse(only, CultureInfo.InvariantCulture));
    }
}

internal enum FuzzFailureKind { Exception, Slow, Hang, Allocation }

internal sealed record FuzzFailure(FuzzFailureKind Kind, long Execution, byte[] Input, string Detail)
{
    /// <summary>A smaller input that fails the same way, when one was found.</summary>
    public byte[]? Shrunk { get; set; }
}

internal sealed record FuzzResult(string Name, int Seed, long Executions, TimeSpan Elapsed, FuzzFailure? Failure)
{
    /// <summary>The line scripts/fuzz.sh reads.</summary>
    public string Summary => string.Create(CultureInfo.InvariantCulture,
        $"FUZZ reader={Name} executions={Executions} seconds={Elapsed.TotalSeconds:F1} seed={Seed}");

    public void AssertClean(string testClass)
    {
        if (Failure is not { } f)
            return;
        var text = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"fuzz {Name}: {f.Kind} at execution {f.Execution} of seed {Seed}: {f.Detail}\n")
            .Append(CultureInfo.InvariantCulture, $"input ({f.Input.Length} bytes): {Show(f.Input)}\n");
        if (f.Shrunk is { } shrunk)
            text.Append(CultureInfo.InvariantCulture, $"shrunk ({shrunk.Length} bytes): {Show(shrunk)}\n");
        text.Append(CultureInfo.InvariantCulture,
            $"replay: KVS_FUZZ_SEED={Seed} KVS_FUZZ_REPLAY={f.Execution} dotnet test tests/AotKvs.Tests -c Release --filter FullyQualifiedName~{testClass}");
        Assert.Fail(text.ToString());
    }

    /// <summary>Printable ASCII as is, the rest as \xNN; the first 400 bytes.</summary>
    public static string Show(byte[] input)
    {
        var text = new StringBuilder("\"");
        foreach (var b in input.AsSpan(0, Math.Min(input.Length, 400)))
            text.Append(b is >= 0x20 and < 0x7F and not (byte)'\\' and not (byte)'"' ? ((char)b).ToString() : $"\\x{b:X2}");
        return text.Append(input.Length > 400 ? "\"..." : "\"").ToString();
    }
}

/// <summary>What the oracle gets besides the input: its own seeded random, and the meter.</summary>
internal sealed class FuzzContext(Random random, CancellationToken abandoned)
{
    public Random Random { get; } = random;

    /// <summary>Cancelled once the harness has given up on an input that does not return (for negative controls).</summary>
    public CancellationToken Abandoned { get; } = abandoned;

    internal long ReaderBytes { get; private set; }
    internal bool Measured { get; private set; }

    /// <summary>Counts what the reader allocates on this thread until disposed.</summary>
    public Meter Measure() => new(this);

    internal readonly struct Meter(FuzzContext context) : IDisposable
    {
        private readonly long _start = GC.GetAllocatedBytesForCurrentThread();

        public void Dispose()
        {
            context.ReaderBytes += GC.GetAllocatedBytesForCurrentThread() - _start;
            context.Measured = true;
        }
    }
}

/// <summary>
/// Runs a target: each execution's input is made from the seed and the execution's number
/// alone (the corpus first, as is; then generated, or a corpus item or generated input
/// mutated), so any failure replays from those two numbers. Inputs run one at a time on a
/// worker thread, each timed and its allocations counted; the calling thread watches, and
/// an input still running after twice the time bound is reported as a hang.
/// </summary>
internal static class Fuzzer
{
    public static FuzzResult Run(FuzzTarget target, FuzzBudget? budget = null)
    {
        budget ??= FuzzBudget.For(target);
        var state = new RunState(target, budget);
        var worker = new Thread(state.Loop, 4 << 20) { IsBackground = true, Name = "fuzz " + target.Name };
        var clock = Stopwatch.StartNew();
        worker.Start();
        var hang = target.TimeBound * 2;
        while (!worker.Join(20))
        {
            var started = Volatile.Read(ref state.Started);
            if (started != 0 && Stopwatch.GetElapsedTime(started) > hang)
            {
                // It never returns: name it, tell the worker to stop after it, and leave it.
                state.Failure ??= new FuzzFailure(FuzzFailureKind.Hang, state.Execution, state.Input,
                    $"still running after {hang.TotalSeconds} s");
                state.Stop = true;
                state.Abandon.Cancel();
                break;
            }
        }
        return new FuzzResult(target.Name, budget.Seed, state.Executions, clock.Elapsed, state.Failure);
    }

    /// <summary>An execution's input, from the seed and its number alone.</summary>
    public static byte[] Input(FuzzTarget target, int seed, long execution, out Random random)
    {
        random = new Random(Mix(seed, execution));
        if (execution < target.Corpus.Count)
            return target.Corpus[(int)execution];
        return random.Next(10) switch
        {
            < 3 => target.Generate(random),
            var roll => Mutator.Mutate(
                roll < 6 ? target.Corpus[random.Next(target.Corpus.Count)] : target.Generate(random),
                random, target.Corpus, target.Dictionary, target.MaxInputBytes),
        };
    }

    /// <summary>The seed of one execution (SplitMix64 over the seed, the target and the number).</summary>
    private static int Mix(int seed, long execution)
    {
        var z = (ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)execution;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (int)(z ^ (z >> 31));
    }

    /// <summary>A target's own seed, stable across runs (string.GetHashCode is not).</summary>
    private static int TargetSeed(int seed, string name)
    {
        var hash = 2166136261u;
        foreach (var c in name)
            hash = (hash ^ c) * 16777619u;
        return Mix(seed, hash);
    }

    // Abandon is never disposed: a hanging input's worker is left running and may still read it.
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "an abandoned worker may outlive the run")]
    private sealed class RunState(FuzzTarget target, FuzzBudget budget)
    {
        private readonly int _seed = TargetSeed(budget.Seed, target.Name);

        public readonly CancellationTokenSource Abandon = new();
        public long Started;             // Stopwatch timestamp of the running input, 0 between inputs
        public volatile bool Stop;
        public volatile FuzzFailure? Failure;
        public long Executions;
        public long Execution;
        public byte[] Input = [];

        public void Loop()
        {
            var clock = Stopwatch.StartNew();
            for (var execution = budget.Only ?? 0; !Stop; execution++)
            {
                if (execution - (budget.Only ?? 0) >= budget.Executions || clock.Elapsed >= budget.Duration
                    || budget.Only is { } only && execution > only)
                    return;
                var input = Fuzzer.Input(target, _seed, execution, out var random);
                Execution = execution;
                var failure = Execute(input, random);
                if (Stop)
                    return;
                Executions++;
                if (failure is null)
                    continue;
                Failure = failure;
                if (failure.Kind is FuzzFailureKind.Exception or FuzzFailureKind.Allocation)
                    Shrink(failure, execution);
                return;
            }
        }

        private FuzzFailure? Execute(byte[] input, Random random)
        {
            var context = new FuzzContext(random, Abandon.Token);
            Input = input;
            var before = GC.GetAllocatedBytesForCurrentThread();
            var start = Stopwatch.GetTimestamp();
            Volatile.Write(ref Started, start);
            Exception? thrown = null;
            try
            {
                target.Oracle(input, context);
            }
            catch (Exception e)
            {
                thrown = e;
            }
            var elapsed = Stopwatch.GetElapsedTime(start);
            Volatile.Write(ref Started, 0);
            var allocated = context.Measured ? context.ReaderBytes : GC.GetAllocatedBytesForCurrentThread() - before;

            if (thrown is not null)
                return new FuzzFailure(FuzzFailureKind.Exception, Execution, input, $"{thrown.GetType().Name}: {thrown.Message}\n{thrown.StackTrace}");
            if (elapsed > target.TimeBound)
                return new FuzzFailure(FuzzFailureKind.Slow, Execution, input, $"took {elapsed.TotalMilliseconds:F0} ms (bound {target.TimeBound.TotalMilliseconds} ms)");
            var bound = target.AllocationBound(input.Length);
            if (allocated > bound)
                return new FuzzFailure(FuzzFailureKind.Allocation, Execution, input, $"allocated {allocated} bytes (bound {bound} for {input.Length} bytes)");
            return null;
        }

        /// <summary>Removes chunks, halving their size, while the input still fails the same way; at most 2,000 tries.</summary>
        private void Shrink(FuzzFailure failure, long execution)
        {
            var best = failure.Input;
            var tries = 0;
            for (var chunk = Math.Max(1, best.Length / 2); chunk >= 1 && tries < 2000 && !Stop; chunk /= 2)
            {
                for (var at = 0; at + chunk <= best.Length && tries < 2000 && !Stop; tries++)
                {
                    byte[] smaller = [.. best.AsSpan(0, at), .. best.AsSpan(at + chunk)];
                    Execution = execution;
                    Fuzzer.Input(target, _seed, execution, out var random); // the oracle's random as it was
                    var again = Execute(smaller, random);
                    if (again is not null && Signature(again) == Signature(failure))
                        best = smaller;
                    else
                        at += chunk;
                }
            }
            if (best.Length < failure.Input.Length)
                failure.Shrunk = best;
        }

        /// <summary>Fails the same way: the same kind, and for an exception the same type.</summary>
        private static string Signature(FuzzFailure failure) =>
            failure.Kind == FuzzFailureKind.Exception ? failure.Detail[..failure.Detail.IndexOf(':')] : failure.Kind.ToString();
    }
}

/// <summary>The fuzz tests run one after another: each has a time budget, and they would share the cores.</summary>
public sealed class FuzzCollection
{
    public const string Name = "fuzz";
}

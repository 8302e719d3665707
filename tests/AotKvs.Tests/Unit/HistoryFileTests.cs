using AotKvs.Tests.Linearizability;
using Xunit;
using Xunit.Abstractions;

namespace AotKvs.Tests.Unit;

/// <summary>Histories from a file: written and read back unchanged; a malformed line is named; any file can be checked.</summary>
[Trait("Category", "Unit")]
public sealed class HistoryFileTests(ITestOutputHelper output)
{
    [Fact]
    public void A_history_written_reads_back_the_same()
    {
        var history = HistoryGenerator.Generate(5_000, seed: 2, [Plant.StaleRead]);
        var path = Path.GetTempFileName();
        try
        {
            HistoryFile.Write(path, history);
            var back = HistoryFile.Read(path);
            Assert.Equal(history, back);
            Assert.Single(LinearizabilityChecker.Check(back, CheckLimits.Default), v => v.Verdict == Verdict.Violation);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("""{"client": 1, "kind": "put", "key": "k", "value": 1, "invoke": 0, "complete": 1""", "")]
    [InlineData("""{"client": 1, "kind": "patch", "key": "k", "value": 1, "invoke": 0, "complete": 1, "outcome": "created"}""", "kind")]
    [InlineData("""{"client": 1, "kind": "get", "key": "k", "invoke": 0, "complete": 1, "outcome": "maybe"}""", "outcome")]
    [InlineData("""{"client": 1, "kind": "put", "key": "k", "value": 1, "invoke": 0, "outcome": "created"}""", "answer")]
    [InlineData("""{"client": 1, "kind": "put", "key": "k", "value": 1, "invoke": 5, "complete": 1, "outcome": "created"}""", "before")]
    [InlineData("""{"client": 1, "kind": "put", "value": 1, "invoke": 0, "complete": 1, "outcome": "created"}""", "key")]
    [InlineData("""[1, 2]""", "object")]
    public void A_malformed_line_is_named(string line, string says)
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(path, ["""{"kind": "restart", "invoke": 0, "complete": 1}""", line]);
            var error = Assert.Throws<InvalidDataException>(() => HistoryFile.Read(path));
            Assert.StartsWith($"{path}:2: ", error.Message);
            Assert.Contains(says, error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private sealed class HistoryFileFactAttribute : FactAttribute
    {
        public HistoryFileFactAttribute()
        {
            if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("KVS_HISTORY_FILE")))
                Skip = "KVS_HISTORY_FILE=path names a history to check";
        }
    }

    /// <summary>KVS_HISTORY_FILE=path dotnet test --filter Checks_the_history_file: the report of any recorded run.</summary>
    [HistoryFileFact]
    public void Checks_the_history_file()
    {
        var path = Environment.GetEnvironmentVariable("KVS_HISTORY_FILE")!;
        var history = HistoryFile.Read(path);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var verdicts = LinearizabilityChecker.Check(history, CheckLimits.Default);
        output.WriteLine(LinearizabilityReport.Write(history, verdicts, [], [path], clock.Elapsed));
        Assert.All(verdicts, v => Assert.True(v.Verdict == Verdict.Linearizable, LinearizabilityReport.Describe(v)));
    }
}

using System.Reflection;
using System.Text.Json;
using AotKvs.Protocol;
using AotKvs.Tests.Support;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// docs/api.md is the contract in the repository: every fixed answer the service writes
/// must be in it, with its status, as the client sees it.
/// </summary>
[Trait("Category", "Unit")]
public sealed class ApiDocTests
{
    public static TheoryData<string> FixedAnswers()
    {
        var data = new TheoryData<string>();
        foreach (var field in typeof(Responses).GetFields(BindingFlags.Public | BindingFlags.Static))
            if (field.FieldType == typeof(JsonResponse))
                data.Add(field.Name);
        return data;
    }

    [Theory, MemberData(nameof(FixedAnswers))]
    public void Every_fixed_answer_is_documented_with_its_status(string name)
    {
        var answer = (JsonResponse)typeof(Responses).GetField(name)!.GetValue(null)!;
        var member = JsonDocument.Parse(answer.Body).RootElement.EnumerateObject().Single();
        // The docs write bodies the way the contract's tables do: {"error": "..."}.
        var shown = $"{{\"{member.Name}\": \"{member.Value.GetString()}\"}}";
        var doc = File.ReadAllLines(Path.Combine(ServerProcess.RepoRoot, "docs", "api.md"));
        Assert.Contains(doc, line => line.Contains(shown, StringComparison.Ordinal)
            && line.Contains(answer.Status.ToString(), StringComparison.Ordinal));
    }
}

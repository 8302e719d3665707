using AotKvs.Tests.Linearizability;
using AotKvs.Tests.Support;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>The workload's reading of HTTP answers: only the SPEC's answer for the operation sent is an outcome.</summary>
[Trait("Category", "Unit")]
public sealed class AnswerMeaningTests
{
    [Theory]
    [InlineData(OpKind.Put, 201, Expected.Created, OpOutcome.Created)]
    [InlineData(OpKind.Put, 200, Expected.Replaced, OpOutcome.Replaced)]
    [InlineData(OpKind.Get, 200, """{"result": "found", "value": 7}""", OpOutcome.Found)]
    [InlineData(OpKind.Get, 404, Expected.KeyNotFound, OpOutcome.NotFound)]
    [InlineData(OpKind.Delete, 200, Expected.Deleted, OpOutcome.Deleted)]
    [InlineData(OpKind.Delete, 404, Expected.KeyNotFound, OpOutcome.NotFound)]
    [InlineData(OpKind.Put, 503, Expected.CannotForward, OpOutcome.Unknown)]
    public void The_SPEC_answer_is_an_outcome(OpKind kind, int status, string body, OpOutcome outcome)
    {
        var reply = AnswerMeaning.Interpret(kind, status, body);
        Assert.Null(reply.Anomaly);
        Assert.Equal(outcome, reply.Outcome);
    }

    [Theory]
    [InlineData(OpKind.Get, 201, Expected.Created)]
    [InlineData(OpKind.Get, 200, Expected.Deleted)]
    [InlineData(OpKind.Delete, 200, Expected.Replaced)]
    [InlineData(OpKind.Put, 200, Expected.Deleted)]
    [InlineData(OpKind.Put, 404, Expected.KeyNotFound)]
    [InlineData(OpKind.Put, 200, Expected.Created)]
    [InlineData(OpKind.Get, 200, """{"result": "found", "value": "7"}""")]
    [InlineData(OpKind.Get, 200, """{"result": "found"}""")]
    [InlineData(OpKind.Get, 500, Expected.KeyNotFound)]
    [InlineData(OpKind.Delete, 503, """{"error": "Service unavailable"}""")]
    [InlineData(OpKind.Get, 200, "not json")]
    [InlineData(OpKind.Get, 200, "[]")]
    public void An_answer_that_does_not_belong_is_an_anomaly(OpKind kind, int status, string body)
    {
        var reply = AnswerMeaning.Interpret(kind, status, body);
        Assert.NotNull(reply.Anomaly);
        Assert.Equal(OpOutcome.Unknown, reply.Outcome); // sent: it may still have taken effect
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK", 200)]
    [InlineData("HTTP/1.1 404 Not Found", 404)]
    [InlineData("HTTP/1.1 503", 503)]
    [InlineData("HTTP/1.1 2OO OK", null)]
    [InlineData("HTTP/1.1 20 OK", null)]
    [InlineData("HTTP/1.1 +20 OK", null)]
    [InlineData("HTTP/1.0200 OK", null)]
    [InlineData("garbage", null)]
    [InlineData("", null)]
    public void The_status_line_is_read_strictly(string line, int? status) =>
        Assert.Equal(status, WireAnswer.StatusOf(line));
}

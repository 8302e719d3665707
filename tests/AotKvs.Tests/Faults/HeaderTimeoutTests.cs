using AotKvs.Tests.Support;
using Xunit;

namespace AotKvs.Tests.Faults;

/// <summary>
/// A client that stops in the middle of its headers is closed by Kestrel's
/// RequestHeadersTimeout (30 s). The test is half a minute of waiting and almost no CPU, so
/// it runs in CI alongside the others instead of only in the long form.
/// </summary>
[Trait("Category", "Faults")]
public sealed class HeaderTimeoutTests
{
    [Fact]
    public async Task Client_silent_in_the_middle_of_its_headers_is_closed_by_the_header_timeout()
    {
        using var main = ServerProcess.StartMain();
        var outcome = await RawExchange.SendAsync(main.Port, ["GET /kvs/a HTTP/1.1\r\nHost: h\r\nX-Half"u8.ToArray()], 1,
            TimeSpan.FromSeconds(45), patience: TimeSpan.FromSeconds(60));
        // An empty 408, then the connection is closed: not before 30 s, and not much after.
        Assert.False(outcome.TimedOut, $"still open after {outcome.Elapsed}");
        Assert.Equal(408, Assert.Single(outcome.Answers).Status);
        Assert.InRange(outcome.Elapsed, TimeSpan.FromSeconds(29), TimeSpan.FromSeconds(36));
    }
}

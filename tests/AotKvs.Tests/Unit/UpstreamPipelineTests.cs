using System.Buffers;
using System.Globalization;
using System.Net.Sockets;
using System.Net;
using System.Text;
using AotKvs.Configuration;
using AotKvs.Forwarding.Client;
using AotKvs.Forwarding.Pipelining;
using AotKvs.Forwarding;
using AotKvs.Operations;
using AotKvs.Protocol;
using AotKvs.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// The pipeline driven by hand, with main's side of every connection written by the test:
/// a lane is taken, requests gather behind it, and the batch goes when the test finishes the
/// lane. What a batch holds (a connection permit, a connection, answer bytes counted in the
/// budget, its copy of the requests) is all given back whatever happens to it, and each
/// answer reaches its own request.
/// </summary>
[Trait("Category", "Unit")]
public sealed partial class UpstreamPipelineTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    /// <summary>Joining is never refused for the batch's age: a test machine can be slow at any moment.</summary>
    private static readonly UpstreamPipeline.Timing Wide = new(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30));

    private readonly TcpListener _listener = new(IPAddress.Loopback, FreePort.Next());
    private readonly List<MainSide> _mainSides = [];
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly MetricsCollector _collector = new();
    private readonly List<IDisposable> _owned = [];
    private readonly BufferBudget _budget = new(1 << 20);
    private SocketError? _dialFailure;
    private int _dials;
    private SemaphoreSlim _permits = null!;
    private UpstreamPool _pool = null!;
    private UpstreamPipeline _pipeline = null!;
    private DeadlinePool _bounds = null!;

    public UpstreamPipelineTests() => _listener.Start();

    private void NewPipeline(int connections = 2, int lanes = 1, int maxBatch = 8, TimeSpan? timeout = null, UpstreamPipeline.Timing? timing = null,
        Func<CancellationToken, ValueTask<Socket>>? dial = null)
    {
        var options = ServiceOptions.Load(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["FORWARDING_ADDRESS"] = "10.10.0.2:8090",
        }).Build());
        var readiness = new Readiness(null, NullLogger<Readiness>.Instance);
        var metrics = new ForwardingMetrics(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), _collector);
        _permits = new SemaphoreSlim(connections, connections);
        _pool = new UpstreamPool(connections, dial ?? DialAsync, _budget);
        _owned.Add(_pool);
        _bounds = new DeadlinePool(timeout ?? Bound);
        _pipeline = new UpstreamPipeline(lanes, maxBatch, _pool, _permits, new UpstreamReport(readiness, metrics).SentBatch, _bounds, timing ?? Wide);
    }

    private async ValueTask<Socket> DialAsync(CancellationToken cancel)
    {
        Interlocked.Increment(ref _dials);
        if (_dialFailure is { } failure)
            throw new SocketException((int)failure);
        var client = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var accepting = _listener.AcceptSocketAsync(cancel);
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)_listener.LocalEndpoint).Port, cancel);
        var main = await accepting;
        main.NoDelay = true;
        lock (_mainSides)
            _mainSides.Add(new MainSide(main));
        return client;
    }

    private int Dials => Volatile.Read(ref _dials);

    /// <summary>Main's side of the <paramref name="index"/>th connection dialled, once it is there.</summary>
    private MainSide Main(int index)
    {
        Assert.True(Poll.Until(() => { lock (_mainSides) return _mainSides.Count > index; }, Bound), $"connection {index} was never dialled");
        lock (_mainSides)
            return _mainSides[index];
    }

    private static byte[] RequestBytes(ulong tag) => Encoding.ASCII.GetBytes($"GET /kvs/k{tag} HTTP/1.1\r\nKvs-Tag: {tag:x16}\r\n\r\n");

    /// <summary>A request entering the pipeline, as the forwarder enters it: its bytes in a buffer from the shared pool.</summary>
    private PipelinedRequest? Enter(ulong tag, out PipelineLane? lane, bool isHead = false)
    {
        var bytes = RequestBytes(tag);
        var buffer = ArrayPool<byte>.Shared.Rent(bytes.Length);
        bytes.CopyTo(buffer, 0);
        var request = _pipeline.TryEnter(buffer, bytes.Length, tag, isHead, out lane);
        if (request is null)
            ArrayPool<byte>.Shared.Return(buffer); // not the pipeline's: the caller sends it alone
        return request;
    }

    /// <summary>Takes the one lane (its own request, the test pretends, is in flight) and puts the requests tagged <paramref name="tags"/> behind it.</summary>
    private (PipelineLane Lane, List<PipelinedRequest> Members) Gather(params ulong[] tags)
    {
        Assert.Null(Enter(1000, out var lane));
        Assert.NotNull(lane);
        var members = tags.Select(tag => Enter(tag, out var none) ?? throw new Xunit.Sdk.XunitException($"request {tag} did not join")).ToList();
        return (lane, members);
    }

    /// <summary>
    /// The request's outcome. A batch hands it over inline, on its own stack, before it gives
    /// back what it held: the test goes on from the thread pool, so that waiting for what the
    /// batch gives back never blocks the batch.
    /// </summary>
    private async Task<UpstreamAnswer> Exchange(PipelinedRequest request, CancellationToken deadline)
    {
        try
        {
            return await _pipeline.ExchangeAsync(request, deadline);
        }
        finally
        {
            await Task.Yield();
        }
    }

    private CancellationToken Deadline(TimeSpan? after = null)
    {
        var source = new CancellationTokenSource(after ?? Bound);
        _owned.Add(source);
        return source.Token;
    }

    private static string BodyOf(UpstreamAnswer answer) => Encoding.Latin1.GetString(answer.Body.Memory.Span);

    /// <summary>Main's answer to the request tagged <paramref name="tag"/>: "v" and the tag, so a mixed-up answer shows.</summary>
    private static string AnswerTo(ulong tag, string extra = "", string? body = null)
    {
        body ??= $"v{tag}";
        return $"HTTP/1.1 200 OK\r\nKvs-Tag: {tag:x16}\r\n{extra}Content-Length: {body.Length}\r\n\r\n{body}";
    }

    private bool PermitsAllBack(int connections = 2) => Poll.Until(() => _permits.CurrentCount == connections, Bound);

    /// <summary>One connection to main, as main sees it.</summary>
    private sealed class MainSide(Socket socket)
    {
        private string _pending = "";

        public Socket Socket => socket;

        /// <summary>The tags of the next <paramref name="count"/> requests main reads.</summary>
        public async Task<List<ulong>> ReadAsync(int count)
        {
            using var bound = new CancellationTokenSource(Bound);
            var tags = new List<ulong>();
            var buffer = new byte[16 * 1024];
            while (true)
            {
                int end;
                while (tags.Count < count && (end = _pending.IndexOf("\r\n\r\n", StringComparison.Ordinal)) >= 0)
                {
                    var field = _pending[..end].Split("\r\n").Single(l => l.StartsWith("Kvs-Tag: ", StringComparison.Ordinal));
                    tags.Add(ulong.Parse(field[9..], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    _pending = _pending[(end + 4)..];
                }
                if (tags.Count == count)
                    return tags;
                var n = await socket.ReceiveAsync(buffer, SocketFlags.None, bound.Token);
                if (n == 0)
                    throw new IOException($"the forwarder closed the connection after {tags.Count} of {count} requests");
                _pending += Encoding.Latin1.GetString(buffer, 0, n);
            }
        }

        public async Task WriteAsync(string text) => await socket.SendAsync(Encoding.Latin1.GetBytes(text), SocketFlags.None);

        public Task AnswerAsync(params ulong[] tags) => WriteAsync(string.Concat(tags.Select(tag => AnswerTo(tag))));

        /// <summary>The forwarder closed its end (main reads the end of the stream; anything unread before it is skipped).</summary>
        public bool ClosedByForwarder()
        {
            var scratch = new byte[4096];
            return Poll.Until(() =>
            {
                while (socket.Available > 0)
                    socket.Receive(scratch);
                return socket.Poll(0, SelectMode.SelectRead) && socket.Available == 0;
            }, Bound);
        }

        public bool StillOpen() => !(socket.Poll(50_000, SelectMode.SelectRead) && socket.Available == 0);
    }

    public void Dispose()
    {
        foreach (var owned in _owned)
            owned.Dispose();
        lock (_mainSides)
            foreach (var main in _mainSides)
                main.Socket.Dispose();
        _listener.Stop();
        _collector.Dispose();
        _services.Dispose();
    }
}

public sealed partial class UpstreamPipelineTests
{
    [Fact]
    public async Task A_batch_goes_in_one_write_each_member_gets_its_own_answer_and_everything_it_held_comes_back()
    {
        NewPipeline();
        var bound = _bounds.Rent();
        _bounds.Return(bound); // the one the batch takes, and gives back
        var (lane, members) = Gather(1, 2, 3);
        var answers = members.Select(m => Exchange(m, Deadline())).ToList();
        Assert.False(lane.IsIdle);

        _pipeline.Finish(lane); // the batch goes
        var main = Main(0);
        Assert.Equal([1UL, 2, 3], await main.ReadAsync(3));
        await main.AnswerAsync(1, 2, 3);
        var got = await Task.WhenAll(answers);

        Assert.Equal(["v1", "v2", "v3"], got.Select(BodyOf));
        Assert.True(PermitsAllBack());
        Assert.True(Poll.Until(() => lane.IsIdle, Bound));
        Assert.All(members, m => Assert.Null(m.Batch.Sent));
        Assert.Equal(6, _budget.InUse); // the three bodies, until relayed
        foreach (var answer in got)
            answer.Body.Dispose();
        Assert.Equal(0, _budget.InUse);
        Assert.Same(bound, _bounds.Rent());
        Assert.Contains("kvs_forward_batches_total 1", _collector.Scrape());
        Assert.Contains("kvs_forward_pipelined_total 3", _collector.Scrape());

        // The connection went back to the pool, open: the next batch takes it instead of dialling.
        Assert.True(main.StillOpen());
        (lane, members) = Gather(4);
        var again = Exchange(members[0], Deadline());
        _pipeline.Finish(lane);
        Assert.Equal([4UL], await main.ReadAsync(1));
        await main.AnswerAsync(4);
        Assert.Equal("v4", BodyOf(await again));
        Assert.Equal(1, Dials);
    }

    [Fact]
    public async Task The_connection_of_a_batch_whose_last_answer_says_close_is_closed()
    {
        NewPipeline();
        var (lane, members) = Gather(1);
        var answer = Exchange(members[0], Deadline());
        _pipeline.Finish(lane);
        var main = Main(0);
        await main.ReadAsync(1);
        await main.WriteAsync(AnswerTo(1, "Connection: close\r\n"));

        Assert.Equal("v1", BodyOf(await answer));
        Assert.True(main.ClosedByForwarder());
        Assert.True(PermitsAllBack());
        Assert.Null(_pool.TakeIdle());
    }

    [Fact]
    public async Task Without_a_free_permit_the_batch_waits_for_one_and_fails_at_its_bound_as_no_connection_free()
    {
        NewPipeline(connections: 1, timeout: TimeSpan.FromMilliseconds(300));
        _permits.Wait(); // every connection is in use
        var (lane, members) = Gather(1, 2);
        var answers = members.Select(m => Exchange(m, Deadline())).ToList();

        _pipeline.Finish(lane);

        foreach (var answer in answers)
            Assert.Contains("no connection to main came free", (await Assert.ThrowsAsync<NoConnectionFreeException>(() => answer)).Message);
        Assert.Equal(0, Dials);
        Assert.True(Poll.Until(() => lane.IsIdle, Bound));
        Assert.Equal(0, _permits.CurrentCount); // the batch never held one, so it gave none back
        _permits.Release();
        Assert.Equal(1, _permits.CurrentCount);
        Assert.All(members, m => Assert.Null(m.Batch.Sent));
    }

    [Fact]
    public async Task A_batch_waiting_for_a_permit_goes_when_one_comes_free()
    {
        NewPipeline(connections: 1);
        _permits.Wait();
        var (lane, members) = Gather(1, 2);
        var answers = members.Select(m => Exchange(m, Deadline())).ToList();
        _pipeline.Finish(lane);
        await Task.Delay(50);
        Assert.Equal(0, Dials); // waiting for the permit

        _permits.Release();
        var main = Main(0);
        Assert.Equal([1UL, 2], await main.ReadAsync(2));
        await main.AnswerAsync(1, 2);

        Assert.Equal(["v1", "v2"], (await Task.WhenAll(answers)).Select(BodyOf));
        Assert.True(PermitsAllBack(connections: 1));
    }

    [Fact]
    public async Task A_batch_whose_members_all_gave_up_before_it_went_is_never_sent_and_holds_nothing()
    {
        NewPipeline();
        var (lane, members) = Gather(1, 2);
        var leaving = new CancellationTokenSource();
        var answers = members.Select(m => Exchange(m, leaving.Token)).ToList();
        leaving.Cancel();
        foreach (var answer in answers)
            await Assert.ThrowsAsync<NoConnectionFreeException>(() => answer); // never sent: like finding no connection

        _pipeline.Finish(lane);

        Assert.True(Poll.Until(() => lane.IsIdle, Bound));
        Assert.Equal(0, Dials);
        Assert.Equal(2, _permits.CurrentCount);
        Assert.All(members, m => Assert.Null(m.Batch.Sent));
        Assert.False(Paused()); // they waited for a connection, not for main: nothing says main is slow
    }

    [Fact]
    public async Task A_batch_on_a_pooled_connection_main_closed_while_idle_goes_once_more_on_a_fresh_one()
    {
        NewPipeline();
        var stale = await _pool.OpenAsync(Deadline());
        _pool.Return(stale, close: false);
        Main(0).Socket.Close(); // main closes it while idle, without a byte
        var (lane, members) = Gather(1, 2);
        var answers = members.Select(m => Exchange(m, Deadline())).ToList();

        _pipeline.Finish(lane);
        var fresh = Main(1);
        Assert.Equal([1UL, 2], await fresh.ReadAsync(2));
        await fresh.AnswerAsync(1, 2);

        Assert.Equal(["v1", "v2"], (await Task.WhenAll(answers)).Select(BodyOf));
        Assert.Equal(2, Dials);
        Assert.True(PermitsAllBack());
        Assert.True(fresh.StillOpen());
        Assert.NotNull(_pool.TakeIdle()); // the fresh one is kept
        Assert.Null(_pool.TakeIdle());
    }

    [Fact]
    public async Task A_fresh_connection_that_fails_before_any_answer_is_not_tried_again()
    {
        NewPipeline();
        var (lane, members) = Gather(1, 2);
        var answers = members.Select(m => Exchange(m, Deadline())).ToList();

        _pipeline.Finish(lane);
        var main = Main(0);
        await main.ReadAsync(2);
        main.Socket.Close(); // main may have acted on both

        foreach (var answer in answers)
            await Assert.ThrowsAsync<HttpIOException>(() => answer);
        Assert.Equal(1, Dials);
        Assert.True(PermitsAllBack());
        Assert.True(Poll.Until(() => lane.IsIdle, Bound));
        Assert.All(members, m => Assert.Null(m.Batch.Sent));
    }

    [Fact]
    public async Task A_connection_lost_after_the_first_answer_fails_the_rest_and_is_closed()
    {
        NewPipeline();
        var (lane, members) = Gather(1, 2, 3);
        var answers = members.Select(m => Exchange(m, Deadline())).ToList();

        _pipeline.Finish(lane);
        var main = Main(0);
        await main.ReadAsync(3);
        await main.WriteAsync(AnswerTo(1) + AnswerTo(2)[..20]);
        main.Socket.Shutdown(SocketShutdown.Send);

        Assert.Equal("v1", BodyOf(await answers[0]));
        var second = await Assert.ThrowsAsync<HttpIOException>(() => answers[1]);
        var third = await Assert.ThrowsAsync<HttpIOException>(() => answers[2]);
        Assert.Equal(HttpRequestError.ResponseEnded, second.HttpRequestError);
        Assert.Equal(HttpRequestError.ResponseEnded, third.HttpRequestError);
        Assert.Equal(1, Dials);
        Assert.True(PermitsAllBack());
        Assert.True(main.ClosedByForwarder());
        Assert.Null(_pool.TakeIdle());
        (await answers[0]).Body.Dispose();
        Assert.Equal(0, _budget.InUse);
    }

    [Fact]
    public async Task An_answer_not_tied_to_its_request_fails_it_and_those_after_it_with_the_connection_failure()
    {
        NewPipeline();
        var (lane, members) = Gather(1, 2, 3);
        var answers = members.Select(m => Exchange(m, Deadline())).ToList();

        _pipeline.Finish(lane);
        var main = Main(0);
        await main.ReadAsync(3);
        await main.AnswerAsync(1, 3, 2); // out of order

        Assert.Equal("v1", BodyOf(await answers[0]));
        var own = await Assert.ThrowsAsync<HttpRequestException>(() => answers[1]);
        Assert.Contains("not tied", own.Message);
        var after = await Assert.ThrowsAsync<HttpIOException>(() => answers[2]); // told the connection failed, not the other's cause
        Assert.Same(own, after.InnerException);
        Assert.Contains("failed before this request's answer", after.Message);
        Assert.True(main.ClosedByForwarder());
        Assert.True(PermitsAllBack());
        Assert.Null(_pool.TakeIdle());
        (await answers[0]).Body.Dispose();
        Assert.Equal(0, _budget.InUse);
    }

    [Fact]
    public async Task A_failed_dial_fails_every_member_with_its_cause()
    {
        NewPipeline();
        _dialFailure = SocketError.ConnectionRefused;
        var (lane, members) = Gather(1, 2);
        var answers = members.Select(m => Exchange(m, Deadline())).ToList();

        _pipeline.Finish(lane);

        foreach (var answer in answers)
            Assert.Equal(SocketError.ConnectionRefused, (await Assert.ThrowsAsync<SocketException>(() => answer)).SocketErrorCode);
        Assert.True(PermitsAllBack());
        Assert.True(Poll.Until(() => lane.IsIdle, Bound));
    }

    [Fact]
    public async Task After_an_answer_that_says_close_the_rest_go_again_on_a_fresh_connection_and_pipelining_pauses()
    {
        NewPipeline();
        var (lane, members) = Gather(1, 2, 3);
        var answers = members.Select(m => Exchange(m, Deadline())).ToList();

        _pipeline.Finish(lane);
        var first = Main(0);
        Assert.Equal([1UL, 2, 3], await first.ReadAsync(3));
        await first.WriteAsync(AnswerTo(1, "Connection: close\r\n"));
        Assert.Equal("v1", BodyOf(await answers[0]));
        Assert.True(first.ClosedByForwarder());
        var fresh = Main(1);
        Assert.Equal([2UL, 3], await fresh.ReadAsync(2)); // only those main never read
        await fresh.AnswerAsync(2, 3);

        Assert.Equal("v2", BodyOf(await answers[1]));
        Assert.Equal("v3", BodyOf(await answers[2]));
        Assert.True(PermitsAllBack());
        Assert.True(Poll.Until(() => lane.IsIdle, Bound));
        Assert.All(members, m => Assert.Null(m.Batch.Sent));
        Assert.NotNull(_pool.TakeIdle()); // the fresh one is kept
        Assert.Null(Enter(4, out var paused));
        Assert.Null(paused); // pipelining paused: each request alone, on no lane
    }

    [Fact]
    public async Task After_an_answer_that_says_close_with_nobody_left_waiting_nothing_goes_again()
    {
        NewPipeline();
        var (lane, members) = Gather(1, 2);
        var leaving = new CancellationTokenSource();
        var answers = new[] { Exchange(members[0], Deadline()), Exchange(members[1], leaving.Token) };

        _pipeline.Finish(lane);
        var main = Main(0);
        await main.ReadAsync(2);
        leaving.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => answers[1]);
        await main.WriteAsync(AnswerTo(1, "Connection: close\r\n"));

        Assert.Equal("v1", BodyOf(await answers[0]));
        Assert.True(main.ClosedByForwarder());
        Assert.True(PermitsAllBack());
        Assert.True(Poll.Until(() => lane.IsIdle, Bound));
        Assert.All(members, m => Assert.Null(m.Batch.Sent));
        Assert.Equal(1, Dials);
    }

    [Fact]
    public async Task When_every_member_left_the_rest_of_the_batch_is_not_read_and_its_connection_is_closed()
    {
        NewPipeline();
        var (lane, members) = Gather(1, 2, 3);
        var leaving = new CancellationTokenSource();
        var answers = new[] { Exchange(members[0], Deadline()), Exchange(members[1], leaving.Token), Exchange(members[2], leaving.Token) };

        _pipeline.Finish(lane);
        var main = Main(0);
        await main.ReadAsync(3);
        leaving.Cancel();
        await main.AnswerAsync(1, 2, 3); // the two nobody waits for are never read: the connection is not kept

        Assert.Equal("v1", BodyOf(await answers[0]));
        Assert.True(main.ClosedByForwarder());
        Assert.True(PermitsAllBack());
        Assert.True(Poll.Until(() => lane.IsIdle, Bound));
        Assert.Null(_pool.TakeIdle());
        (await answers[0]).Body.Dispose();
        Assert.Equal(0, _budget.InUse);
    }

    [Fact]
    public async Task The_answer_of_a_member_that_left_is_read_and_dropped_and_the_next_gets_its_own()
    {
        NewPipeline();
        var (lane, members) = Gather(1, 2, 3);
        var leaving = new CancellationTokenSource();
        var answers = new[] { Exchange(members[0], Deadline()), Exchange(members[1], leaving.Token), Exchange(members[2], Deadline()) };

        _pipeline.Finish(lane);
        var main = Main(0);
        await main.ReadAsync(3);
        leaving.Cancel();
        var left = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => answers[1]);
        Assert.IsNotType<NoConnectionFreeException>(left); // it was sent: a timeout, not a busy pool
        await main.AnswerAsync(1, 2, 3);

        Assert.Equal("v1", BodyOf(await answers[0]));
        Assert.Equal("v3", BodyOf(await answers[2]));
        Assert.True(PermitsAllBack());
        Assert.True(main.StillOpen());
        (await answers[0]).Body.Dispose();
        (await answers[2]).Body.Dispose();
        Assert.Equal(0, _budget.InUse); // the dropped answer's bytes too
    }

    [Fact]
    public async Task A_batch_runs_within_the_bound_of_its_last_member()
    {
        NewPipeline(timeout: TimeSpan.FromMilliseconds(400));
        var (lane, members) = Gather(1);
        var answer = Exchange(members[0], Deadline());
        var clock = System.Diagnostics.Stopwatch.StartNew();

        _pipeline.Finish(lane); // main never answers (on a busy machine, the bound may even end before the dial)

        await Assert.ThrowsAnyAsync<Exception>(() => answer);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        Assert.True(PermitsAllBack());
        Assert.True(Poll.Until(() => lane.IsIdle, Bound));
        if (Dials > 0)
            Assert.True(Main(0).ClosedByForwarder());
    }
}

public sealed partial class UpstreamPipelineTests
{
    [Fact]
    public async Task Batches_whose_answers_are_at_hand_run_inline_at_most_four_deep_and_then_on_the_thread_pool()
    {
        // Each connection main gives already holds its answer: every batch completes without
        // waiting, and the next one, gathered while its answer was relayed, starts inside it.
        const int count = 60;
        var ready = new Queue<Socket>();
        for (ulong tag = 1; tag <= count; tag++)
        {
            var client = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            var accepting = _listener.AcceptSocketAsync();
            await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)_listener.LocalEndpoint).Port);
            var main = await accepting;
            lock (_mainSides)
                _mainSides.Add(new MainSide(main));
            var answer = Encoding.Latin1.GetBytes(AnswerTo(tag, "Connection: close\r\n"));
            await main.SendAsync(answer, SocketFlags.None);
            Assert.True(Poll.Until(() => client.Available == answer.Length, Bound));
            _owned.Add(client);
            ready.Enqueue(client);
        }
        NewPipeline(dial: _ => ValueTask.FromResult(ready.Dequeue()));
        var (lane, members) = Gather(1);
        var depths = new List<int>();

        async Task RelayAllAsync()
        {
            var request = members[0];
            for (ulong tag = 1; ; tag++)
            {
                var answer = await _pipeline.ExchangeAsync(request, Deadline()).ConfigureAwait(false);
                depths.Add(new System.Diagnostics.StackTrace().FrameCount);
                Assert.Equal($"v{tag}", BodyOf(answer));
                answer.Body.Dispose();
                if (tag == count)
                    return;
                request = Enter(tag + 1, out _) ?? throw new Xunit.Sdk.XunitException($"request {tag + 1} did not join");
            }
        }
        var relaying = RelayAllAsync();
        await Task.Run(() => _pipeline.Finish(lane));
        await relaying.WaitAsync(Bound);

        // Runs nested on one stack: the stack deepens from one answer to the next.
        var runs = new List<int> { 1 };
        for (var i = 1; i < depths.Count; i++)
        {
            if (depths[i] > depths[i - 1])
                runs[^1]++;
            else
                runs.Add(1);
        }
        Assert.True(runs.Max() <= 5, $"runs on one stack: {string.Join(",", runs)}");
        Assert.True(runs.Count(r => r == 5) >= runs.Count - 3, $"runs on one stack: {string.Join(",", runs)}");
        Assert.True(PermitsAllBack());
        Assert.Equal(0, _budget.InUse);
    }
}

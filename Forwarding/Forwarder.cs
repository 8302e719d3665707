using System.Buffers;
using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using AotKvs.Configuration;
using AotKvs.Forwarding.Client;
using AotKvs.Forwarding.Pipelining;
using AotKvs.Protocol;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;

namespace AotKvs.Forwarding;

/// <summary>
/// The forwarding role: sends each request on to main (method, path and query exactly as
/// received, body, Content-Type, the <see cref="RelayedRequestHeaders"/>, plus our Via entry and a tag
/// main echoes) and returns main's status, body, Content-Type, Allow, ETag and Preference-Applied. Any failure to get a whole answer in time,
/// or an answer that cannot be tied to its request, becomes the SPEC's 503; a request that
/// has been here before is a loop and gets 508. A GET or HEAD that asks to wait (Prefer:
/// wait=N) goes to main alone, never pipelined, its bound extended by the wait granted.
/// </summary>
internal sealed class Forwarder : IDisposable
{
    private readonly UpstreamReport _report;
    private readonly ViaHeader _via = ViaHeader.ForNewInstance();
    private readonly RequestHead _head;
    private readonly DeadlinePool _deadlines;
    private readonly UpstreamPool _pool;
    private readonly UpstreamPipeline _pipeline;
    private readonly BufferBudget _budget;
    private readonly int _maxWaitSeconds;

    // One permit per connection to main: a request to main holds one from before it is
    // sent until main's whole answer is in, so connections to main never exceed the bound,
    // whatever the burst of clients. The wait counts against the same forward bound.
    private readonly SemaphoreSlim _connections;

    // When main last answered (a Stopwatch timestamp): tells a slow main from a vanished one.
    private long _lastAnswer;

    // See NoteEcho. Until main's first answer says otherwise, it is not known to be ours.
    private bool _mainEchoesTags;

    // The tag of the last request sent (ExchangeTag): 0 is never sent.
    private long _lastTag;

    /// <summary>
    /// <paramref name="dial"/> opens one connection to main; tests put a scripted main
    /// there. By default, a TCP connection to <paramref name="target"/>.
    /// <paramref name="pipelineTiming"/>: tests widen or shorten the pipeline's windows.
    /// <paramref name="maxWaitSeconds"/>: the longest wait a request's Prefer: wait=N adds to
    /// its bound (by default, <see cref="Settings.MaxWaitSeconds"/>'s).
    /// </summary>
    public Forwarder(ForwardingTarget target, TimeSpan timeout, int maxConnections, int maxBatch, UpstreamReport report,
        Func<CancellationToken, ValueTask<Socket>>? dial = null, BufferBudget? budget = null, UpstreamPipeline.Timing? pipelineTiming = null,
        int? maxWaitSeconds = null)
    {
        _budget = budget ?? BufferBudget.Unlimited;
        _maxWaitSeconds = maxWaitSeconds ?? Settings.MaxWaitSeconds.Fallback;
        _connections = new SemaphoreSlim(maxConnections, maxConnections);
        _report = report;
        _head = new RequestHead(target.Display, _via.Entry);
        _deadlines = new DeadlinePool(timeout);
        _pool = new UpstreamPool(maxConnections, dial ?? (cancel => UpstreamPool.DialAsync(target, cancel)), _budget);
        _pipeline = new UpstreamPipeline(PipelineLanes(maxConnections), maxBatch, _pool, _connections, report.SentBatch, _deadlines, pipelineTiming);
    }

    /// <summary>
    /// What the next hop (this same binary) accepts in request headers is the server's
    /// default 32 KiB in all; 512 bytes of it are left for Host, Content-Length and the names.
    /// </summary>
    private const int NextHopHeaderBudget = 32 * 1024 - 512;

    /// <summary>
    /// The next hop also takes at most 100 header lines (the server's default). The client's
    /// <see cref="RelayedRequestHeaders"/> lines go on one for one; this forwarder's own are at most
    /// Host, Via, Kvs-Tag, Connection, Content-Type and Content-Length.
    /// </summary>
    private const int NextHopHeaderLines = 100;
    private const int OwnHeaderLines = 6;

    /// <summary>
    /// Pipelined batches in flight at once, never more than the connections allowed. Chosen by
    /// measurement (docs/operations.md): 2 lanes gave bigger batches but a longer latency tail
    /// at 256 clients, 8 smaller batches and less throughput at 32.
    /// </summary>
    private static int PipelineLanes(int maxConnections) => Math.Min(maxConnections, 4);

    public Task ForwardAsync(HttpContext context)
    {
        if (RequestTarget.PathAndQuery(context) is not { } pathAndQuery)
            return Responses.BadTarget.WriteAsync(context.Response);

        var via = context.Request.Headers.Via;
        if (_via.IsLoop(via))
            return Responses.LoopDetected.WriteAsync(context.Response);

        var contentType = context.Request.ContentType;
        var headers = context.Request.Headers;
        var relayed = new RelayedRequestHeaders(headers);
        if (_via.AppendedLength(via) + (contentType?.Length ?? 0) + relayed.Length > NextHopHeaderBudget
            || relayed.Lines > NextHopHeaderLines - OwnHeaderLines)
            return Responses.HeadersTooLarge.WriteAsync(context.Response); // the next hop would refuse it with an empty 431

        return AsTask(ForwardAsync(context, pathAndQuery, via, relayed, contentType));
    }

    /// <summary>
    /// The server wants a Task. An async Task method would put its whole state on the heap for
    /// every request that waits on main; a pooled ValueTask costs only the small wrapper.
    /// </summary>
    private static Task AsTask(ValueTask forwarding)
    {
        if (!forwarding.IsCompletedSuccessfully)
            return forwarding.AsTask();
        forwarding.GetAwaiter().GetResult(); // hands a pooled state machine back
        return Task.CompletedTask;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ForwardAsync(HttpContext context, string pathAndQuery, StringValues via, RelayedRequestHeaders relayed, string? contentType)
    {
        var hasBody = context.Features.GetRequiredFeature<IHttpRequestBodyDetectionFeature>().CanHaveBody;
        var (body, error) = hasBody ? await RequestBody.ReadAsync(context.Request, _budget) : default;
        using (body)
        {
            if (error is not null)
            {
                await error.WriteAsync(context.Response);
                return;
            }

            // Read once: what the head says (keep-alive or not) and whether it may be pipelined must agree.
            var mainEchoes = Volatile.Read(ref _mainEchoesTags);
            var tag = (ulong)Interlocked.Increment(ref _lastTag);
            var bodyInline = body.Length <= UpstreamPipeline.MaxRequestBytes;
            // The method goes on exactly as received: main itself refuses "get" (methods are case-sensitive).
            var head = _head.Write(context.Request.Method, pathAndQuery, via, relayed, hasBody ? contentType : null, body.Span, hasBody,
                tag, keepAlive: mainEchoes, bodyInline, out var length);
            var isHead = context.Request.Method == HttpMethods.Head; // ordinal: "head" is not HEAD, and main answers it with a body
            var request = new UpstreamRequest(head.AsMemory(0, length), bodyInline ? default : body.Memory, tag, isHead);
            await SendAsync(context, head, request, mainEchoes, WaitGranted(context.Request, isHead));
        }
    }

    /// <summary>
    /// The seconds a GET or HEAD asks to wait (Prefer: wait=N, at most the setting's), which
    /// main may spend before it answers; 0 for any other request.
    /// </summary>
    private int WaitGranted(HttpRequest request, bool isHead) =>
        (isHead || request.Method == HttpMethods.Get) && PreferHeader.TryReadWait(request.Headers, out var seconds)
            ? Math.Min(seconds, _maxWaitSeconds)
            : 0;

    /// <summary>
    /// Sends <paramref name="request"/> (whose head is <paramref name="buffer"/>, rented from
    /// the shared pool, now ours) and relays main's answer. <paramref name="keepAlive"/>: main
    /// is known to echo tags, so the request may share a connection with others.
    /// <paramref name="waitSeconds"/>: main may wait that long before it answers, so the
    /// request goes alone (nothing pipelined may queue behind it, and a client that leaves
    /// closes its connection, so main's waiter goes) with its bound extended by as much.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))] // one heap object less per request
    private async ValueTask SendAsync(HttpContext context, byte[] buffer, UpstreamRequest request, bool keepAlive, int waitSeconds)
    {
        var deadline = waitSeconds == 0 ? _deadlines.Rent() : _deadlines.Rent(TimeSpan.FromSeconds(waitSeconds));
        PipelineLane? lane = null;
        var pipelined = keepAlive && request.Body.IsEmpty && waitSeconds == 0
            ? _pipeline.TryEnter(buffer, request.Head.Length, request.Tag, request.IsHead, out lane)
            : null;
        // A client that leaves ends the work it caused: a lone request to main is cancelled (its
        // connection closed) instead of holding a connection to main until the deadline. A
        // pipelined one stops waiting; its batch reads its answer and drops it.
        var clientGone = pipelined is null
            ? context.RequestAborted.UnsafeRegister(static source => ((CancellationTokenSource)source!).Cancel(), deadline)
            : context.RequestAborted.UnsafeRegister(static request => ((PipelinedRequest)request!).OnClientLeft(), pipelined);
        UpstreamAnswer answer;
        var holdsConnection = false;
        var started = Stopwatch.GetTimestamp();
        try
        {
            if (pipelined is not null)
            {
                holdsConnection = true;
                answer = await _pipeline.ExchangeAsync(pipelined, deadline.Token);
            }
            else
            {
                holdsConnection = _connections.Wait(0) || await _connections.WaitAsync(Timeout.Infinite, deadline.Token);
                answer = await _pool.SendAsync(request, keepAlive, deadline.Token);
            }
        }
        catch (AnswerOverBudgetException)
        {
            // Main answered, but holding its answer would pass the budget: refused like a body over it.
            await Responses.BusyAndClose(context.Response).WriteAsync(context.Response);
            return;
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException or SocketException)
        {
            if (context.RequestAborted.IsCancellationRequested)
                return; // our own client left; nobody to answer
            if (holdsConnection && e is OperationCanceledException && Volatile.Read(ref _lastAnswer) > started)
            {
                // Main answered other requests while this one waited: it is there but slow
                // (overloaded), not gone. Dropping every pooled connection would only add
                // a burst of new connections to a main that is already behind.
                _report.TimedOutWhileMainAnswers(e);
            }
            else if (holdsConnection && e is not NoConnectionFreeException)
            {
                _report.Failed(e);
                _pool.DropIdle();
            }
            else
            {
                _report.AllConnectionsBusy(); // main is not at fault: no connection came free in time
            }
            await Responses.CannotForward.WriteAsync(context.Response);
            return;
        }
        finally
        {
            if (pipelined is null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
                if (holdsConnection)
                    _connections.Release();
                if (lane is not null)
                    _pipeline.Finish(lane); // the batch gathered behind this request goes now
            }
            // Unregistered (waiting out a callback already running) before the source is
            // reused, so a late abort can never cancel another request's deadline.
            clientGone.Dispose();
            _deadlines.Return(deadline);
        }

        NoteEcho(answer.Head.Tag != ExchangeTag.None);
        Volatile.Write(ref _lastAnswer, Stopwatch.GetTimestamp());
        using (answer.Body)
        {
            var head = answer.Head;
            _report.Answered(head.Status);
            var outgoing = context.Response;
            outgoing.StatusCode = head.Status;
            if (head.ContentType is not null)
                outgoing.ContentType = head.ContentType;
            if (head.Allow is not null)
                outgoing.Headers.Allow = head.Allow;
            if (head.ETag is not null)
                outgoing.Headers.ETag = head.ETag; // on every status, a 304's and a 412's included
            if (head.PreferenceApplied is not null)
                outgoing.Headers[PreferHeader.AppliedName] = head.PreferenceApplied; // likewise
            if (head.Status is 204 or 205 or 304)
                return; // no content, whatever main sent (RFC 9110 §15.3.5, §15.3.6, §15.4.5): the server refuses to write any
            // A HEAD answer has no body but tells the length a GET would have.
            outgoing.ContentLength = request.IsHead ? (head.ContentLength >= 0 ? head.ContentLength : null) : answer.Body.Length;
            await BodySlices.WriteAsync(outgoing.BodyWriter, answer.Body.Memory, default, context.RequestAborted);
        }
    }

    /// <summary>
    /// Whether main's last answer carried its tag. Only a main that echoes tags (an AotKvs
    /// main) gets keep-alive connections and pipelining; when it stops, the kept connections
    /// go and requests carry Connection: close until it echoes again.
    /// </summary>
    private void NoteEcho(bool echoed)
    {
        if (Volatile.Read(ref _mainEchoesTags) == echoed)
            return;
        Volatile.Write(ref _mainEchoesTags, echoed);
        if (!echoed)
            _pool.DropIdle();
    }

    public void Dispose()
    {
        _pool.Dispose();
        _connections.Dispose();
    }
}

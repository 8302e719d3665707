using System.Buffers;
using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using AotKvs.Configuration;
using AotKvs.Protocol;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;

namespace AotKvs.Forwarding;

/// <summary>
/// The forwarding role: sends each request on to main (method, path and query exactly as
/// received, body and Content-Type, plus our Via entry) and returns main's status, body,
/// Content-Type and Allow. Any failure to get a whole answer in time becomes the SPEC's 503;
/// a request that has been here before is a loop and gets 508.
/// </summary>
internal sealed class Forwarder : IDisposable
{
    private readonly ForwardingTarget _target;
    private readonly UpstreamReport _report;
    private readonly ViaHeader _via = ViaHeader.ForNewInstance();
    private readonly RequestHead _head;
    private readonly DeadlinePool _deadlines;
    private readonly UpstreamPool _pool;
    private readonly UpstreamPipeline _pipeline;
    private readonly BufferBudget _budget;

    // One permit per connection to main: a request to main holds one from before it is
    // sent until main's whole answer is in, so connections to main never exceed the bound,
    // whatever the burst of clients. The wait counts against the same forward bound.
    private readonly SemaphoreSlim _connections;

    // When main last answered (a Stopwatch timestamp): tells a slow main from a vanished one.
    private long _lastAnswer;

    /// <summary>
    /// <paramref name="dial"/> opens one connection to main; tests put a scripted main
    /// there. By default, a TCP connection to <paramref name="target"/>.
    /// <paramref name="pipelineTiming"/>: tests widen or shorten the pipeline's windows.
    /// </summary>
    public Forwarder(ForwardingTarget target, TimeSpan timeout, int maxConnections, int maxBatch, UpstreamReport report,
        Func<CancellationToken, ValueTask<Socket>>? dial = null, BufferBudget? budget = null, UpstreamPipeline.Timing? pipelineTiming = null)
    {
        _budget = budget ?? BufferBudget.Unlimited;
        _connections = new SemaphoreSlim(maxConnections, maxConnections);
        _target = target;
        _report = report;
        _head = new RequestHead(target.Display, _via);
        _deadlines = new DeadlinePool(timeout);
        _pool = new UpstreamPool(maxConnections, dial ?? (cancel => UpstreamPool.DialAsync(target, cancel)), _budget);
        _pipeline = new UpstreamPipeline(PipelineLanes(maxConnections), maxBatch, _pool, _connections, report, pipelineTiming);
    }

    /// <summary>
    /// What the next hop (this same binary) accepts in request headers is the server's
    /// default 32 KiB in all; 512 bytes of it are left for Host, Content-Length and the names.
    /// </summary>
    private const int NextHopHeaderBudget = 32 * 1024 - 512;

    /// <summary>
    /// Pipelined batches in flight at once, never more than the connections allowed. Chosen by
    /// measurement (docs/operations.md): 2 lanes gave bigger batches but a longer latency tail
    /// at 256 clients, 8 smaller batches and less throughput at 32.
    /// </summary>
    private static int PipelineLanes(int maxConnections) => Math.Min(maxConnections, 4);

    public ForwardingTarget Target => _target;

    public Task ForwardAsync(HttpContext context)
    {
        if (RequestTarget.PathAndQuery(context) is not { } pathAndQuery)
            return Responses.BadTarget.WriteAsync(context.Response);

        var via = context.Request.Headers.Via;
        if (_via.IsLoop(via))
            return Responses.LoopDetected.WriteAsync(context.Response);

        var contentType = context.Request.ContentType;
        if (_via.AppendedLength(via) + (contentType?.Length ?? 0) > NextHopHeaderBudget)
            return Responses.HeadersTooLarge.WriteAsync(context.Response); // the next hop would refuse it with an empty 431

        return AsTask(ForwardAsync(context, pathAndQuery, via, contentType));
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
    private async ValueTask ForwardAsync(HttpContext context, string pathAndQuery, StringValues via, string? contentType)
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

            // The method goes on exactly as received: main itself refuses "get" (methods are case-sensitive).
            var request = _head.Write(context.Request.Method, pathAndQuery, via, hasBody ? contentType : null, hasBody ? body.Memory : (ReadOnlyMemory<byte>?)null, out var length);
            await SendAsync(context, request, length);
        }
    }

    /// <summary>Sends <paramref name="request"/> (a buffer rented from the shared pool, now ours) and relays main's answer.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))] // one heap object less per request
    private async ValueTask SendAsync(HttpContext context, byte[] request, int length)
    {
        var isHead = context.Request.Method == HttpMethods.Head; // ordinal: "head" is not HEAD, and main answers it with a body
        var deadline = _deadlines.Rent();
        var pipelined = _pipeline.TryEnter(request, length, isHead, deadline, out var lane);
        // A client that leaves ends the work it caused: its request to main is cancelled (its
        // connection closed) instead of holding a connection to main until the deadline. A
        // pipelined one with requests behind it in its batch runs its course instead: cutting
        // it would cut them too.
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
                answer = await _pool.SendAsync(request.AsMemory(0, length), isHead, deadline.Token);
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
            if (pipelined is not null)
            {
                // One that gave up may still be in a batch about to be sent: the batch returns its buffer.
                if (!pipelined.HasGivenUp)
                    pipelined.ReleaseBuffer();
            }
            else
            {
                ArrayPool<byte>.Shared.Return(request);
                if (holdsConnection)
                    _connections.Release();
                lane?.Finish(); // the batch gathered behind this request goes now
            }
            // Unregistered (waiting out a callback already running) before the source is
            // reused, so a late abort can never cancel another request's deadline.
            clientGone.Dispose();
            _deadlines.Return(deadline);
        }

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
            // A HEAD answer has no body but tells the length a GET would have.
            outgoing.ContentLength = isHead ? (head.ContentLength >= 0 ? head.ContentLength : null) : answer.Body.Length;
            await BodySlices.WriteAsync(outgoing.BodyWriter, answer.Body.Memory, default, context.RequestAborted);
        }
    }

    public void Dispose()
    {
        _pool.Dispose();
        _connections.Dispose();
    }
}

using System.Diagnostics;
using System.Net.Http.Headers;
using AotKvs.Configuration;
using AotKvs.Protocol;
using Microsoft.AspNetCore.Http.Features;

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
    private readonly TimeSpan _timeout;
    private readonly UpstreamReport _report;
    private readonly Func<HttpMessageHandler> _connectToMain;
    private readonly ViaHeader _via = ViaHeader.ForNewInstance();
    private readonly DeadlinePool _deadlines;
    private readonly BufferBudget _budget;

    // One permit per connection to main: a request to main holds one from before it is
    // sent until main's whole answer is in, so connections to main never exceed the bound,
    // whatever the burst of clients. The wait counts against the same forward bound.
    private readonly SemaphoreSlim _connections;

    // When main last answered (a Stopwatch timestamp): tells a slow main from a vanished one.
    private long _lastAnswer;

    // Main's answer is copied only after it has arrived whole, so a connection dropped
    // mid-body is still a clean 503 rather than a truncated 200.
    private HttpMessageInvoker _invoker;

    /// <summary>
    /// <paramref name="connectToMain"/> makes the handler behind each connection pool to
    /// main; tests put a fake main there. By default, <see cref="CreateHandler"/>.
    /// </summary>
    public Forwarder(ForwardingTarget target, TimeSpan timeout, int maxConnections, UpstreamReport report, Func<HttpMessageHandler>? connectToMain = null, BufferBudget? budget = null)
    {
        _connections = new SemaphoreSlim(maxConnections, maxConnections);
        _target = target;
        _timeout = timeout;
        _report = report;
        _connectToMain = connectToMain ?? (() => CreateHandler(timeout, maxConnections));
        _deadlines = new DeadlinePool(timeout);
        _budget = budget ?? BufferBudget.Unlimited;
        _invoker = NewPool();
    }

    /// <summary>
    /// What the next hop (this same binary) accepts in request headers is the server's
    /// default 32 KiB in all; 512 bytes of it are left for Host, Content-Length and the names.
    /// </summary>
    private const int NextHopHeaderBudget = 32 * 1024 - 512;

    public ForwardingTarget Target => _target;

    public async Task ForwardAsync(HttpContext context)
    {
        if (RequestTarget.PathAndQuery(context) is not { } pathAndQuery)
        {
            await Responses.BadTarget.WriteAsync(context.Response);
            return;
        }

        var via = context.Request.Headers.Via;
        if (_via.IsLoop(via))
        {
            await Responses.LoopDetected.WriteAsync(context.Response);
            return;
        }

        // The client library sends "get" as "GET"; main would refuse "get", so refuse it here.
        var method = HttpMethod.Parse(context.Request.Method);
        if (method.Method != context.Request.Method && KeyRules.Locate(RequestTarget.Path(pathAndQuery), out _) != KeyStatus.NotKeyPath)
        {
            await Responses.RefuseKeyMethodAsync(context, RequestTarget.Path(pathAndQuery));
            return;
        }

        var forwardedVia = _via.Append(via);
        if (forwardedVia.Length + (context.Request.ContentType?.Length ?? 0) > NextHopHeaderBudget)
        {
            await Responses.HeadersTooLarge.WriteAsync(context.Response); // the next hop would refuse it with an empty 431
            return;
        }

        var hasBody = context.Features.GetRequiredFeature<IHttpRequestBodyDetectionFeature>().CanHaveBody;
        var (body, error) = hasBody ? await RequestBody.ReadAsync(context.Request, _budget) : default;
        using (body)
        {
            if (error is not null)
            {
                await error.WriteAsync(context.Response);
                return;
            }

            using var request = new HttpRequestMessage(method, _target.UriFor(pathAndQuery));
            request.Headers.TryAddWithoutValidation("Via", forwardedVia);
            if (hasBody)
            {
                request.Content = new ReadOnlyMemoryContent(body.Memory);
                if (context.Request.ContentType is { } contentType)
                    request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            }
            await SendAsync(context, request);
        }
    }

    private async Task SendAsync(HttpContext context, HttpRequestMessage request)
    {
        var invoker = _invoker;
        var deadline = _deadlines.Rent();
        // A client that leaves ends the work it caused: the request to main is cancelled
        // instead of holding a connection to main until the deadline.
        var clientGone = context.RequestAborted.UnsafeRegister(static source => ((CancellationTokenSource)source!).Cancel(), deadline);
        HttpResponseMessage? response = null;
        AnswerBody answer;
        var holdsConnection = false;
        var started = Stopwatch.GetTimestamp();
        try
        {
            holdsConnection = _connections.Wait(0) || await _connections.WaitAsync(Timeout.Infinite, deadline.Token);
            response = await invoker.SendAsync(request, deadline.Token);
            answer = await AnswerBody.ReadAsync(response, context.Request.Method == HttpMethods.Head, _budget, deadline.Token);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
        {
            response?.Dispose();
            if (context.RequestAborted.IsCancellationRequested)
                return; // our own client left; nobody to answer
            if (holdsConnection && e is OperationCanceledException && Volatile.Read(ref _lastAnswer) > started)
            {
                // Main answered other requests while this one waited: it is there but slow
                // (overloaded), not gone. Dropping every pooled connection would only add
                // a burst of new connections to a main that is already behind.
                _report.TimedOutWhileMainAnswers(e);
            }
            else if (holdsConnection)
            {
                _report.Failed(e);
                DropPool(invoker);
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
            if (holdsConnection)
                _connections.Release();
            // Unregistered (waiting out a callback already running) before the source is
            // reused, so a late abort can never cancel another request's deadline.
            clientGone.Dispose();
            _deadlines.Return(deadline);
        }

        Volatile.Write(ref _lastAnswer, Stopwatch.GetTimestamp());
        using (response)
        using (answer)
        {
            if (answer.Refused)
            {
                context.Response.Headers.Connection = "close";
                await Responses.Busy.WriteAsync(context.Response);
                return;
            }
            _report.Answered((int)response.StatusCode);
            var outgoing = context.Response;
            outgoing.StatusCode = (int)response.StatusCode;
            CopyHeader(response.Content.Headers, "Content-Type", outgoing);
            CopyHeader(response.Content.Headers, "Allow", outgoing);
            // A HEAD answer has no body but tells the length a GET would have.
            outgoing.ContentLength = context.Request.Method == HttpMethods.Head
                ? response.Content.Headers.ContentLength
                : answer.Length;
            await BodySlices.WriteAsync(outgoing.BodyWriter, answer.Memory, default, context.RequestAborted);
        }
    }

    private static void CopyHeader(HttpHeaders from, string name, HttpResponse to)
    {
        if (from.NonValidated.TryGetValues(name, out var values))
            to.Headers[name] = values.ToString();
    }

    /// <summary>
    /// After a transport failure (main refused, vanished or dropped us) the other idle
    /// connections to main are suspect too: start a fresh pool so that the first request
    /// after main comes back opens a new connection instead of finding a dead one.
    /// </summary>
    private void DropPool(HttpMessageInvoker failed)
    {
        var fresh = NewPool();
        if (Interlocked.CompareExchange(ref _invoker, fresh, failed) != failed)
        {
            fresh.Dispose(); // another request already replaced it
            return;
        }
        // Requests still running on the old pool finish or time out first.
        _ = Task.Delay(_timeout * 2).ContinueWith(_ => failed.Dispose(), TaskScheduler.Default);
    }

    private HttpMessageInvoker NewPool() => new(_connectToMain(), disposeHandler: true);

    /// <summary>A client for main: no proxy, cookies, redirects or decompression; bounded connect.</summary>
    internal static SocketsHttpHandler CreateHandler(TimeSpan timeout, int maxConnections = int.MaxValue) => new()
    {
        MaxConnectionsPerServer = maxConnections,
        UseProxy = false,
        UseCookies = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = System.Net.DecompressionMethods.None,
        ConnectTimeout = timeout,
        // Shorter than main's keep-alive timeout, so main never closes a connection we are about to reuse.
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(50),
        ActivityHeadersPropagator = null,
    };

    public void Dispose()
    {
        _invoker.Dispose();
        _connections.Dispose();
    }
}

using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net;
using AotKvs.Configuration;
using AotKvs.Protocol;

namespace AotKvs.Storage.Etcd;

/// <summary>
/// Every call to the etcd cluster goes through here: at most KVS_STORE_CONNECTIONS in flight,
/// each within KVS_STORE_TIMEOUT_MS (waiting for a turn, failover and authentication
/// included), to the endpoint that last answered, moving on to the next one when it fails.
/// Anything but an answer becomes a <see cref="StoreException"/>; an endpoint's failure is
/// logged when it starts and when it ends, never once per request.
/// </summary>
internal sealed class EtcdChannel : IDisposable
{
    private static readonly MediaTypeHeaderValue Grpc = new("application/grpc");

    private readonly StoreSettings _settings;
    private readonly EtcdMetrics _metrics;
    private readonly ILogger _logger;
    private readonly HttpMessageInvoker _http;
    private readonly SemaphoreSlim _inFlight;
    private readonly Endpoint[] _endpoints;
    private int _current;

    // The auth token; null until authenticated (or when the cluster has no users).
    private volatile string? _token;
    private readonly SemaphoreSlim _authenticating = new(1, 1);

    public EtcdChannel(StoreSettings settings, EtcdMetrics metrics, ILogger<EtcdChannel> logger)
    {
        _settings = settings;
        _metrics = metrics;
        _logger = logger;
        _http = new HttpMessageInvoker(EtcdConnections.CreateHandler(settings), disposeHandler: true);
        _inFlight = new SemaphoreSlim(settings.Connections, settings.Connections);
        _endpoints = [.. settings.Endpoints.Select(uri => new Endpoint(uri))];
    }

    /// <summary>
    /// Sends one call and returns etcd's answer body. <paramref name="queued"/> false: the
    /// call does not wait behind requests (the readiness probe must not be starved by load).
    /// </summary>
    public async Task<byte[]> CallAsync(EtcdCall call, byte[] body, CancellationToken cancel, bool queued = true)
    {
        var started = Stopwatch.GetTimestamp();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(_settings.Timeout);
        var holdsTurn = false;
        try
        {
            holdsTurn = queued && (_inFlight.Wait(0) || await _inFlight.WaitAsync(Timeout.Infinite, deadline.Token));
            return await FailOverAsync(call, body, deadline.Token, cancel);
        }
        catch (OperationCanceledException e) when (!cancel.IsCancellationRequested)
        {
            _metrics.CountError("timeout");
            var what = holdsTurn || !queued ? "no answer from etcd" : "no free connection to etcd";
            throw new StoreException(StoreFailure.Unavailable, $"{what} within {_settings.Timeout.TotalMilliseconds} ms", e);
        }
        finally
        {
            if (holdsTurn)
                _inFlight.Release();
            _metrics.Record(call, started);
        }
    }

    private async Task<byte[]> FailOverAsync(EtcdCall call, byte[] body, CancellationToken deadline, CancellationToken cancel)
    {
        var first = Volatile.Read(ref _current);
        StoreException? last = null;
        for (var attempt = 0; attempt < _endpoints.Length; attempt++)
        {
            var index = (first + attempt) % _endpoints.Length;
            var endpoint = _endpoints[index];
            (byte[]? Answer, StoreException? Failure, bool MayRetry) outcome;
            try
            {
                outcome = await TryOnceAsync(endpoint, call, body, deadline);
            }
            catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
            {
                // Silent past the bound (frozen, partitioned, or no quorum behind it): the
                // next call starts at another endpoint, so a frozen one cannot hold every call.
                endpoint.Failed($"etcd endpoint {endpoint}: no answer within {_settings.Timeout.TotalMilliseconds} ms", _logger);
                Interlocked.CompareExchange(ref _current, (index + 1) % _endpoints.Length, index);
                throw;
            }
            var (answer, failure, mayRetry) = outcome;
            if (failure is null)
                return answer!;
            if (failure.Failure != StoreFailure.Unavailable)
                throw failure;
            endpoint.Failed(failure.Message, _logger);
            Interlocked.CompareExchange(ref _current, (index + 1) % _endpoints.Length, index);
            if (!mayRetry)
                throw failure;
            last = failure;
        }
        throw last!;
    }

    /// <summary>etcd's answer; else why not, and whether another endpoint may be asked.</summary>
    private async Task<(byte[]? Answer, StoreException? Failure, bool MayRetry)> TryOnceAsync(Endpoint endpoint, EtcdCall call, byte[] body, CancellationToken deadline)
    {
        for (var authenticated = false; ; authenticated = true)
        {
            GrpcAnswer answer;
            try
            {
                if (_settings.User is not null && _token is null && call != EtcdCall.Authenticate)
                    await AuthenticateAsync(endpoint, deadline);
                answer = await SendAsync(endpoint, call, body, deadline);
            }
            catch (Exception e) when (e is HttpRequestException or IOException && !deadline.IsCancellationRequested)
            {
                var cause = FailureCause.Cause(e);
                _metrics.CountError(cause);
                // Refused: the call never reached etcd, so any call may go to the next endpoint.
                var neverSent = e is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError };
                return (null, new StoreException(StoreFailure.Unavailable, $"etcd endpoint {endpoint}: {cause}: {e.Message}", e), neverSent || call.Idempotent);
            }

            if (answer.Status == GrpcStatus.Ok)
            {
                endpoint.Answered(_logger);
                return (answer.Body, null, false);
            }

            var message = $"etcd endpoint {endpoint} answered {answer.Status}: {answer.Message}";
            if (IsTooLarge(answer))
            {
                endpoint.Answered(_logger); // the endpoint is fine; the request was not
                _metrics.CountError("too_large");
                return (null, new StoreException(StoreFailure.ValueTooLarge, message), false);
            }
            if (answer.Status == GrpcStatus.Unauthenticated && _settings.User is not null && !authenticated)
            {
                _token = null; // expired or revoked: authenticate once more and repeat
                continue;
            }
            _metrics.CountError(answer.Status is GrpcStatus.Unauthenticated or GrpcStatus.PermissionDenied ? "auth" : "unavailable");
            // "no leader" and the like: this endpoint cannot serve, another one may.
            return (null, new StoreException(StoreFailure.Unavailable, message), call.Idempotent && answer.Status == GrpcStatus.Unavailable);
        }
    }

    /// <summary>The watch streams open now (kvs_store_watches).</summary>
    public int OpenWatches => _metrics.Watches;

    /// <summary>
    /// Opens a Watch stream with <paramref name="createRequest"/> and returns it once etcd has
    /// said the watch is created, within the store bound (failover and authentication
    /// included, as a read's). The stream takes no turn among KVS_STORE_CONNECTIONS: it lasts
    /// as long as its waiter, and the waiters are bounded where they come in (KVS_MAX_WAITERS).
    /// Its request is sent whole: etcd keeps a watch stream whose client has finished sending
    /// (as its own JSON gateway does), and ends it when the stream is reset (disposed).
    /// </summary>
    public async Task<EtcdWatch> WatchAsync(byte[] createRequest, Action<ResponseHeader> learn, CancellationToken cancel)
    {
        var started = Stopwatch.GetTimestamp();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(_settings.Timeout);
        var first = Volatile.Read(ref _current);
        StoreException? last = null;
        for (var attempt = 0; attempt < _endpoints.Length; attempt++)
        {
            var index = (first + attempt) % _endpoints.Length;
            var endpoint = _endpoints[index];
            try
            {
                var watch = await OpenWatchAsync(endpoint, createRequest, learn, deadline.Token);
                endpoint.Answered(_logger);
                return watch;
            }
            catch (OperationCanceledException e) when (!cancel.IsCancellationRequested)
            {
                _metrics.CountError("timeout");
                endpoint.Failed($"etcd endpoint {endpoint}: no watch within {_settings.Timeout.TotalMilliseconds} ms", _logger);
                Interlocked.CompareExchange(ref _current, (index + 1) % _endpoints.Length, index);
                throw new StoreException(StoreFailure.Unavailable, $"no watch from etcd within {_settings.Timeout.TotalMilliseconds} ms", e);
            }
            catch (Exception e) when (e is HttpRequestException or IOException)
            {
                var cause = FailureCause.Cause(e);
                _metrics.CountError(cause);
                last = new StoreException(StoreFailure.Unavailable, $"etcd endpoint {endpoint}: {cause}: {e.Message}", e);
            }
            catch (StoreException e) when (e.Failure == StoreFailure.Unavailable)
            {
                last = e;
            }
            endpoint.Failed(last.Message, _logger);
            Interlocked.CompareExchange(ref _current, (index + 1) % _endpoints.Length, index);
            if (Stopwatch.GetElapsedTime(started) >= _settings.Timeout)
                break;
        }
        throw last!;
    }

    /// <summary>One endpoint's watch: its headers, then its first answer, which must say "created".</summary>
    private async Task<EtcdWatch> OpenWatchAsync(Endpoint endpoint, byte[] createRequest, Action<ResponseHeader> learn, CancellationToken deadline)
    {
        for (var authenticated = false; ; authenticated = true)
        {
            if (_settings.User is not null && _token is null)
                await AuthenticateAsync(endpoint, deadline);
            var request = new HttpRequestMessage(HttpMethod.Post, endpoint.UriFor(EtcdCall.Watch))
            {
                Version = HttpVersion.Version20,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
                Content = new ByteArrayContent(createRequest),
            };
            request.Content.Headers.ContentType = Grpc;
            request.Headers.TryAddWithoutValidation("te", "trailers");
            // etcd ends the watch (Unavailable) when its member loses the leader, rather than
            // leaving it silent on the wrong side of a partition.
            request.Headers.TryAddWithoutValidation("hasleader", "true");
            if (_token is { } token)
                request.Headers.TryAddWithoutValidation("token", token);
            HttpResponseMessage? response = null;
            EtcdWatch? watch = null;
            try
            {
                response = await _http.SendAsync(request, deadline); // returns at the headers: SocketsHttpHandler streams every body
                if (response.StatusCode != HttpStatusCode.OK)
                    throw new StoreException(StoreFailure.Unavailable, $"etcd endpoint {endpoint} answered the watch with HTTP {(int)response.StatusCode}");
                // A status in the headers is etcd refusing the stream outright.
                if (Header(response.Headers, "grpc-status") is { } status && status != "0")
                {
                    var message = Header(response.Headers, "grpc-message") is { } text ? Uri.UnescapeDataString(text) : "no message";
                    if (status == "16" && _settings.User is not null && !authenticated)
                    {
                        _token = null; // expired or revoked: authenticate once more and repeat
                        response.Dispose();
                        request.Dispose();
                        continue;
                    }
                    _metrics.CountError(status is "16" or "7" ? "auth" : "unavailable");
                    throw new StoreException(StoreFailure.Unavailable, $"etcd endpoint {endpoint} refused the watch: {status}: {message}");
                }
                watch = new EtcdWatch(request, response, await response.Content.ReadAsStreamAsync(deadline), _metrics);
                var (created, header) = await watch.NextAsync(deadline);
                if (!created.Created || created.Canceled)
                    throw new StoreException(StoreFailure.Unavailable, $"etcd endpoint {endpoint} did not create the watch: {created.CancelReason ?? "no reason given"}");
                learn(header);
                var opened = watch;
                watch = null;
                return opened;
            }
            catch when (watch is null)
            {
                response?.Dispose();
                request.Dispose();
                throw;
            }
            finally
            {
                watch?.Dispose(); // its response and request with it
            }
        }
    }

    /// <summary>
    /// One gRPC call over the endpoint's HTTP/2 connection. Its status comes in the trailers,
    /// or in the headers when etcd answers with nothing else.
    /// </summary>
    private async Task<GrpcAnswer> SendAsync(Endpoint endpoint, EtcdCall call, byte[] body, CancellationToken deadline)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint.UriFor(call))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = Grpc;
        request.Headers.TryAddWithoutValidation("te", "trailers");
        if (_token is { } token && call != EtcdCall.Authenticate)
            request.Headers.TryAddWithoutValidation("token", token);
        using var response = await _http.SendAsync(request, deadline);
        var answer = await response.Content.ReadAsByteArrayAsync(deadline);
        if (response.StatusCode != HttpStatusCode.OK)
            return new GrpcAnswer(GrpcStatus.Unavailable, $"HTTP {(int)response.StatusCode}", answer);
        var status = Header(response.TrailingHeaders, "grpc-status") ?? Header(response.Headers, "grpc-status");
        var text = Header(response.TrailingHeaders, "grpc-message") ?? Header(response.Headers, "grpc-message");
        var code = int.TryParse(status, out var parsed) ? parsed : GrpcStatus.Unknown;
        return new GrpcAnswer(code, text is null ? "no message" : Uri.UnescapeDataString(text), answer);
    }

    internal static string? Header(HttpHeaders headers, string name) =>
        headers.NonValidated.TryGetValues(name, out var values) ? values.ToString() : null;

    /// <summary>One authentication at a time; the others wait for its token.</summary>
    private async Task AuthenticateAsync(Endpoint endpoint, CancellationToken deadline)
    {
        await _authenticating.WaitAsync(deadline);
        try
        {
            if (_token is not null)
                return;
            var answer = await SendAsync(endpoint, EtcdCall.Authenticate, EtcdProto.Authenticate(_settings.User!, _settings.Password!), deadline);
            if (answer.Status != GrpcStatus.Ok)
            {
                _metrics.CountError("auth");
                throw new StoreException(StoreFailure.Unavailable,
                    $"etcd endpoint {endpoint} refused user '{_settings.User}': {answer.Status} {answer.Message}");
            }
            try
            {
                _token = EtcdProto.Token(answer.Body);
            }
            catch (FormatException e) // as EtcdStore.Read: a broken hop, not a crash
            {
                throw new StoreException(StoreFailure.Unavailable, $"etcd endpoint {endpoint} answered what it never sends: {e.Message}", e);
            }
        }
        finally
        {
            _authenticating.Release();
        }
    }

    /// <summary>
    /// etcd refuses a request over its --max-request-bytes with "etcdserver: request is too
    /// large" (InvalidArgument), and gRPC a message over its own limit (that plus 512 KiB)
    /// with ResourceExhausted.
    /// </summary>
    private static bool IsTooLarge(GrpcAnswer answer) =>
        answer.Status == GrpcStatus.ResourceExhausted
        || answer.Status == GrpcStatus.InvalidArgument && answer.Message.Contains("too large", StringComparison.Ordinal);

    public void Dispose()
    {
        _http.Dispose();
        _inFlight.Dispose();
        _authenticating.Dispose();
    }

    /// <summary>One of the cluster's client URLs, and whether it was failing when last asked.</summary>
    private sealed class Endpoint(Uri uri)
    {
        private readonly Dictionary<EtcdCall, Uri> _uris = EtcdCall.All.Append(EtcdCall.Watch).ToDictionary(call => call, call => new Uri(uri, call.Path));
        private int _failing;

        public Uri UriFor(EtcdCall call) => _uris[call];

        public void Answered(ILogger logger)
        {
            if (Interlocked.Exchange(ref _failing, 0) == 1)
                logger.LogInformation("etcd endpoint {Endpoint} answers again", this);
        }

        public void Failed(string why, ILogger logger)
        {
            if (Interlocked.Exchange(ref _failing, 1) == 0)
                logger.LogWarning("Store call failed: {Why}", why);
        }

        public override string ToString() => uri.Authority;
    }
}

/// <summary>A gRPC call's outcome: its status code and message, and the response frame.</summary>
internal readonly record struct GrpcAnswer(int Status, string Message, byte[] Body);

/// <summary>The gRPC status codes this store tells apart.</summary>
internal static class GrpcStatus
{
    public const int Ok = 0, Unknown = 2, InvalidArgument = 3, PermissionDenied = 7, ResourceExhausted = 8, Unavailable = 14, Unauthenticated = 16;
}

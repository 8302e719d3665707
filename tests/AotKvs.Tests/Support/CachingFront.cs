using System.Collections.Concurrent;
using System.Net;
using System.Text;

namespace AotKvs.Tests.Support;

/// <summary>
/// A negative control for mains over a shared store: an HTTP front that passes every request
/// to one main but answers a GET from its own copy of the last value it saw for the key, as
/// a main with a local cache would. Writes through another main never reach that copy, so
/// its reads go stale; every answer is still one the SPEC allows.
/// </summary>
public sealed class CachingFront : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly HttpClient _main;
    private readonly ConcurrentDictionary<string, (int Status, string Body)> _cache = new();
    private readonly CancellationTokenSource _stop = new();

    public CachingFront(Uri main)
    {
        _main = new HttpClient { BaseAddress = main, Timeout = TimeSpan.FromSeconds(5) };
        Port = FreePort.Next();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _ = Task.Run(AcceptAsync);
    }

    public int Port { get; }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            _ = Task.Run(() => AnswerAsync(context));
        }
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        var path = context.Request.RawUrl!;
        try
        {
            (int Status, string Body) answer;
            if (context.Request.HttpMethod == "GET" && _cache.TryGetValue(path, out var cached))
            {
                answer = cached;
            }
            else
            {
                using var request = new HttpRequestMessage(new HttpMethod(context.Request.HttpMethod), path);
                if (context.Request.HasEntityBody)
                {
                    using var reader = new StreamReader(context.Request.InputStream);
                    request.Content = new StringContent(await reader.ReadToEndAsync(), Encoding.UTF8, "application/json");
                }
                using var response = await _main.SendAsync(request);
                answer = ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
                if (context.Request.HttpMethod == "GET" && answer.Status == 200)
                    _cache[path] = answer;
                else if (context.Request.HttpMethod != "GET")
                    _cache.TryRemove(path, out _); // its own writes it does not serve stale
            }
            var bytes = Encoding.UTF8.GetBytes(answer.Body);
            context.Response.StatusCode = answer.Status;
            context.Response.ContentType = "application/json";
            context.Response.ContentLength64 = bytes.Length;
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or HttpListenerException or IOException)
        {
            context.Response.Abort();
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Close();
        _main.Dispose();
        _stop.Dispose();
    }
}

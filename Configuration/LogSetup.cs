using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace AotKvs.Configuration;

/// <summary>
/// Console logs through the framework's formatters: one plain line by default, one JSON
/// object per line with --log-format json. Every line carries the role and the instance.
/// </summary>
internal static class LogSetup
{
    public static WebApplicationBuilder AddLogs(this WebApplicationBuilder builder, ServiceOptions options)
    {
        var logs = options.Logs;
        builder.Logging.ClearProviders();
        if (logs.Format == LogFormat.Json)
            builder.Logging.AddJsonConsole(json =>
            {
                json.IncludeScopes = true;
                json.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                json.UseUtcTimestamp = true;
            });
        else
            builder.Logging.AddSimpleConsole(console =>
            {
                console.IncludeScopes = true;
                console.SingleLine = true;
                console.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
                console.UseUtcTimestamp = true;
                console.ColorBehavior = LoggerColorBehavior.Disabled;
            });

        // The console provider is wrapped so that its scopes always start with role and
        // instance: every line gets them without any per-request scope.
        var identity = new LogIdentity(options.Role, logs.Instance);
        builder.Services.RemoveAll<ILoggerProvider>();
        builder.Services.AddSingleton<ILoggerProvider>(services => new IdentifiedLoggerProvider(
            new ConsoleLoggerProvider(services.GetRequiredService<IOptionsMonitor<ConsoleLoggerOptions>>(), services.GetServices<ConsoleFormatter>()),
            identity));

        builder.Logging.SetMinimumLevel(logs.Level);
        // The framework's own start-up chatter is replaced by our single line; asking for
        // debug or trace lets it through again.
        var verbose = logs.Level <= LogLevel.Debug;
        builder.Logging.AddFilter("Microsoft", verbose ? logs.Level : LogLevel.Warning);
        // While this category is on at any level, the host starts an Activity and a logging
        // scope for every request. It logs request start and end (Information, Debug) and
        // start-up failures, which end the process with their own error anyway; so it is off
        // unless debug or trace is asked for: per-request work saved.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", verbose ? logs.Level : LogLevel.None);
        // A start-up failure (a taken port) is reported by Program as one line and exit 2;
        // the host's own "Hosting failed to start" entry would add a stack trace to it.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", verbose ? logs.Level : LogLevel.Critical);
        return builder;
    }
}

/// <summary>The scope every log line starts with: "role=main instance=host".</summary>
internal sealed class LogIdentity(string role, string instance) : IReadOnlyList<KeyValuePair<string, object?>>
{
    private readonly KeyValuePair<string, object?>[] _fields = [new("role", role), new("instance", instance)];
    private readonly string _text = $"role={role} instance={instance}";

    public KeyValuePair<string, object?> this[int index] => _fields[index];
    public int Count => _fields.Length;
    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => ((IEnumerable<KeyValuePair<string, object?>>)_fields).GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    public override string ToString() => _text;
}

/// <summary>A logger provider whose scopes begin with a fixed <see cref="LogIdentity"/>.</summary>
internal sealed class IdentifiedLoggerProvider(ConsoleLoggerProvider console, LogIdentity identity) : ILoggerProvider, ISupportExternalScope
{
    public ILogger CreateLogger(string categoryName) => console.CreateLogger(categoryName);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) =>
        console.SetScopeProvider(new IdentityFirstScopes(scopeProvider, identity));

    public void Dispose() => console.Dispose();

    private sealed class IdentityFirstScopes(IExternalScopeProvider inner, LogIdentity identity) : IExternalScopeProvider
    {
        public void ForEachScope<TState>(Action<object?, TState> callback, TState state)
        {
            callback(identity, state);
            inner.ForEachScope(callback, state);
        }

        public IDisposable Push(object? state) => inner.Push(state);
    }
}
